// Package widget is the countdown of Logout: a counter next to the user's
// avatar, a warning dialog before the sign-out, and the sign-out itself when
// the session ends. It is plain JavaScript and CSS, under 4 KiB gzipped,
// served from this package with no build step and no inline script, so a
// strict Content-Security-Policy of script-src 'self' works.
//
// Mount the assets, then render the script tags in the page's head and the
// element next to the avatar, for a signed-in session only:
//
//	mux.Handle("/backend/assets/logout/", http.StripPrefix("/backend/assets/logout", widget.Handler()))
//
//	st, ok := m.Status(r) // m is the *logout.Manager; ok: signed in
//	cfg := widget.Config{
//		AssetsPrefix: "/backend/assets/logout/",
//		Deadline:     st.Session.Deadline,
//		ServerTime:   st.ServerTime,
//		Lifetime:     st.Lifetime,
//		WarningLead:  st.WarningLead,
//		ShowCounter:  st.ShowCounter,
//		StatusURL:    "/backend/session/status",
//		KeepAliveURL: "/backend/session/keepalive",
//		SignOutURL:   "/backend/session/signout",
//		SignInURL:    "/backend/auth/signin",
//		CSRFToken:    m.CSRFToken(r),
//	}
//	// In the template: <head>…{{.Logout.Script}}</head> … {{.Logout.Element}}
//
// # Server contract
//
// The widget reads, from every response of the page (it wraps window.fetch
// and XMLHttpRequest), the headers Logout-Deadline and Logout-Server-Time,
// both Unix milliseconds; their difference from the browser's clock at the
// response corrects for clock skew. A 401 whose JSON body has
// "signed_in": false ends the session in every tab.
//
// The status endpoint answers GET with header X-Logout-Passive: 1 (it must
// not extend the session) with 200 and
//
//	{"signed_in":true,"deadline":ms,"server_time":ms,"lifetime":s,"warning_lead":s,"show_counter":bool}
//
// or, once the session has ended, 401 and
//
//	{"signed_in":false,"reason":"idle","message":"…","sign_in_url":"/backend/auth/signin?…"}
//
// The keep-alive endpoint answers POST with header X-CSRF-Token as the status
// endpoint does, after extending the session. The sign-out endpoint answers
// POST with X-CSRF-Token and Accept: application/json with 200 and
// {"signed_in":false,"sign_in_url":"…"}.
//
// # Behaviour
//
// The counter's format follows the configured lifetime, not the time left:
// MM:SS under an hour, HH:MM:SS under a day, "D days HH:MM:SS" from a day.
// It is computed from the wall clock at every tick, so it is right after a
// laptop sleeps or a background tab is throttled.
//
// Tabs of one backend share their deadlines and sign-outs through a
// BroadcastChannel, or storage events where that is missing. At zero a tab
// asks the status endpoint first, so activity in a tab it has not heard of
// never signs it out. It navigates to the sign-in page only when the server
// says the session has ended; failed requests are retried with exponential
// backoff up to 30 seconds, and the dialog says so.
//
// Before it navigates away, the widget fires a logout:expired CustomEvent
// on document, whose detail.url is the sign-in URL, so that the page can
// save drafts.
//
// Elements with the attribute data-logout-sign-out (the dialog's "Sign out
// now" button, and any sign-out button of the page) sign out through the
// sign-out endpoint and sign out every tab; without JavaScript such a button
// in a form still posts the form.
package widget
