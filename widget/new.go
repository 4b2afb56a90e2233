package widget

import (
	"net/http"

	"github.com/gologout/logout"
)

// New returns the widget's Config for r's signed-in session, built from
// the Manager that checked r: the deadline, the server time, the idle
// lifetime, the warning lead and the counter setting in force, the
// Manager's endpoint and sign-in URLs, the session's CSRF token, its user
// ID and the user's name given at sign-in ([logout.User.Name]). Only
// AssetsPrefix (where [Handler] is mounted) and Labels are left to the
// caller. It returns false when r has no signed-in session (r did not go
// through [logout.Manager.Handler], or was anonymous there): then render
// no widget.
func New(m *logout.Manager, r *http.Request) (Config, bool) {
	st, ok := m.Status(r)
	if !ok {
		return Config{}, false
	}
	p := m.Paths()
	return Config{
		Deadline: st.Session.Deadline, ServerTime: st.ServerTime,
		Lifetime: st.Lifetime, WarningLead: st.WarningLead, ShowCounter: st.ShowCounter,
		StatusURL: p.Status, KeepAliveURL: p.KeepAlive, SignOutURL: p.SignOut, SignInURL: p.SignIn, EventsURL: p.Events,
		CSRFToken: m.CSRFToken(r), User: st.Session.UserID, UserName: st.Session.UserName,
	}, true
}
