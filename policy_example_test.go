package logout_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/settingsform"
)

// The compliance presets: the limits each allows. Apply fills a
// Settings with them and names the preset, and Validate then refuses
// values above it.
func ExamplePresets() {
	for _, p := range logout.Presets() {
		fmt.Printf("%s: idle %v, overall %v\n", p.Name, p.Lifetime, p.AbsoluteLifetime)
	}
	pci, _ := logout.PresetNamed(logout.PolicyPCIDSS)
	set := pci.Apply(logout.DefaultSettings())
	set.Lifetime = 30 * time.Minute
	fmt.Println(set.Validate())
	// Output:
	// pci-dss: idle 15m0s, overall 0s
	// nist-aal2: idle 1h0m0s, overall 24h0m0s
	// nist-aal3: idle 15m0s, overall 12h0m0s
	// logout: lifetime: must be at most 900 seconds under PCI DSS v4.0 requirement 8.2.8
}

// Every save of the settings is kept with who made it and when; a
// change lists the fields it changed, for the audit trail.
func ExampleManager_SettingsHistory() {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	m, _ := logout.New(logout.NewMemoryStore(), logout.Options{
		Clock:  handClock{&now},
		Logger: slog.New(slog.DiscardHandler),
	})
	ctx := context.Background()
	s, _ := m.Settings(ctx)
	s.Lifetime, s.MaxSessions = 10*time.Minute, 3
	m.UpdateSettings(ctx, s, "alice")

	changes, _ := m.SettingsHistory(ctx, logout.HistoryQuery{})
	for _, c := range changes {
		fmt.Println(c.At.Format(time.DateTime), c.By)
		for _, f := range settingsform.Diff(c) {
			fmt.Println(" ", f)
		}
	}
	// Output:
	// 2026-11-25 09:00:00 alice
	//   lifetime: 900 s → 600 s
	//   max_sessions: none → 3
}

// A user's overrides and their roles' lifetimes: the shortest rule that
// applies wins; a user with none gets the global lifetime.
func ExampleSettings_IdleLifetime() {
	s := logout.DefaultSettings()
	s.RoleLifetimes = map[string]time.Duration{"wall-display": 8 * time.Hour, "editor": 10 * time.Minute}
	s.UserLifetimes = map[string]time.Duration{"carol": 5 * time.Minute}
	fmt.Println(s.IdleLifetime("alice", nil))
	fmt.Println(s.IdleLifetime("bob", []string{"wall-display"}))
	fmt.Println(s.IdleLifetime("bob", []string{"wall-display", "editor"}))
	fmt.Println(s.IdleLifetime("carol", []string{"wall-display"}))
	// Output:
	// 15m0s
	// 8h0m0s
	// 10m0s
	// 5m0s
}
