package logout

// Subscribers returns how many push streams m holds open, for tests that
// wait until the server has seen a stream open or close.
func Subscribers(m *Manager) int { return int(m.push.n.Load()) }
