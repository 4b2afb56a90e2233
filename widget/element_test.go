package widget

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestElementParts: the element from the cached parts is byte for byte
// what html/template renders, whatever the per-request values and labels
// hold.
func TestElementParts(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	base := Config{AssetsPrefix: "/a/", Deadline: now.Add(15 * time.Minute), ServerTime: now, Lifetime: 15 * time.Minute,
		WarningLead: time.Minute, ShowCounter: true, StatusURL: "/s", KeepAliveURL: "/k", SignOutURL: "/o", SignInURL: "/i?x=1&y=2", CSRFToken: "tok"}
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"token to escape", func(c *Config) { c.CSRFToken = `a+b/c="d'<e>&f` + "\x00" }},
		{"day words to escape", func(c *Config) {
			c.Lifetime, c.Deadline = 48*time.Hour, now.Add(30*time.Hour)
			c.Labels = Labels{Lang: "cs", Day: `d<a>y+`, Days: `"days"&`, DaysFew: "dny'"}
		}},
		{"unsafe URL", func(c *Config) { c.SignInURL = "javascript:alert(1)" }},
		{"hidden, no warning", func(c *Config) { c.ShowCounter, c.WarningLead = false, 0 }},
		{"past deadline", func(c *Config) { c.Deadline = now.Add(-time.Hour) }},
		{"sentinel in a label", func(c *Config) { c.Labels.Stay = elementSentinel }},
		{"sentinel in the token", func(c *Config) { c.CSRFToken = elementSentinel }},
		{"user and name to escape", func(c *Config) { c.User, c.UserName = `7"><x`, "Zoë & <Ann>" }},
		{"events", func(c *Config) { c.EventsURL = "/backend/session/events" }},
		{"sessions link", func(c *Config) {
			c.SessionsURL, c.Labels.Sessions = "/backend/account/sessions?a=1&b=2", "Vaše <relace>"
		}},
		{"unsafe sessions link", func(c *Config) { c.SessionsURL = "javascript:alert(1)" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			for range 2 { // first render fills the cache, the second reads it
				got := c.Element()
				want := c.renderElement(strconv.FormatInt(c.Deadline.UnixMilli(), 10), strconv.FormatInt(c.ServerTime.UnixMilli(), 10), c.CSRFToken, c.User, c.UserName,
					FormatLeft(c.Deadline.Sub(c.ServerTime), c.Lifetime, c.Labels))
				if got != want || got == "" {
					t.Fatalf("Element:\n%s\nwant the template's:\n%s", got, want)
				}
			}
		})
	}
}

// TestSessionsLink: the element links to the user's sessions page only
// when the server names it, with the label or its English default.
func TestSessionsLink(t *testing.T) {
	c := Config{Deadline: time.Now().Add(time.Minute), Lifetime: 15 * time.Minute, ShowCounter: true}
	if got := string(c.Element()); strings.Contains(got, "logout-sessions") {
		t.Errorf("a link without SessionsURL:\n%s", got)
	}
	c.SessionsURL = "/backend/account/sessions"
	if got, want := string(c.Element()), `</span><a class="logout-sessions" href="/backend/account/sessions">Your sessions</a><dialog`; !strings.Contains(got, want) {
		t.Errorf("element lacks %s:\n%s", want, got)
	}
	c.Labels.Sessions = "Twoje sesje"
	if got, want := string(c.Element()), `>Twoje sesje</a>`; !strings.Contains(got, want) {
		t.Errorf("element lacks %s:\n%s", want, got)
	}
	c.SessionsURL = "javascript:alert(1)"
	if got := string(c.Element()); strings.Contains(got, "javascript:") {
		t.Errorf("unsafe URL kept:\n%s", got)
	}
}
