package logout

import "time"

// Subscribers returns how many push streams m holds open, for tests that
// wait until the server has seen a stream open or close.
func Subscribers(m *Manager) int { return m.eng.subscribers() }

// Observe returns store wrapped as a Manager with the Observer obs wraps
// it, for the test that every op it reports is one of StoreOps.
func Observe(store Store, obs Observer) Store { return observe(store, obs, time.Now) }
