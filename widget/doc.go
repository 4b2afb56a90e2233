// Package widget is the countdown of Logout: a counter next to the user's
// avatar, a warning dialog before the sign-out, and, when the session ends,
// the page locked in place with a sign-in dialog over it. It is plain
// JavaScript and CSS, under 6 KiB gzipped,
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
//		EventsURL:    "/backend/session/events",
//		CSRFToken:    m.CSRFToken(r),
//		User:         st.Session.UserID,
//		UserName:     st.Session.UserName, // logout.User.Name at sign-in
//	}
//	// or, the same from the Manager: cfg, ok := widget.New(m, r)
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
// The push stream ([Config.EventsURL], optional) is a text/event-stream of
// "status" events (the status endpoint's 200 JSON) and one "ended" event
// (its 401 JSON), as [logout.Manager.Endpoints] serves it.
//
// # Sign-in contract
//
// The lock dialog signs in at [Config.SignInURL] with Accept:
// application/json. GET answers 200 {"csrf_token":"…"}, the sign-in form's
// token. POST, form-encoded username, password and csrf_token, answers 200
// with the status JSON plus "user", "csrf_token" (the new session's) and
// "start_url" ([logout.Manager.WriteSignedIn] writes it), or
// {"error":"…"} with 401 (wrong credentials), 403 (token), 429 (with
// "retry_after" in seconds) or 400; the error is shown in the dialog. An
// app whose sign-in URL does not answer GET with that JSON gets its
// sign-in page instead of the lock.
//
// # Behaviour
//
// The counter's format follows the configured lifetime, not the time left:
// MM:SS under an hour, HH:MM:SS under a day, "D days HH:MM:SS" from a day.
// It is computed from the wall clock at every tick, so it is right after a
// laptop sleeps or a background tab is throttled.
//
// Tabs of one backend share their deadlines and sign-outs through a
// BroadcastChannel, or storage events where that is missing. One tab per
// browser, elected with the Web Locks API, holds the push stream and
// relays it; when it closes another takes over, and on errors it
// reconnects after 1 s doubling to 30 s, with jitter. While the stream is
// up no tab polls; without EventSource or Web Locks, or while the stream is
// down, a tab asks the status endpoint at zero, so activity in a tab it has
// not heard of never signs it out. With push, zero is checked once; with
// fetch or XHR requests of the page in flight, again with backoff until
// they end. Only the server's word ends the session; failed requests are
// retried with exponential backoff up to 30 seconds, and the dialog says so.
//
// # Lock in place
//
// When the server says the session ended (a 401 of any same-origin request
// of the page, the status or keep-alive endpoint, or the push stream) for
// any reason but the user's own sign-out, the page is locked in every tab:
// the children of <body> get inert and display: none (the text, too, is
// out of view and out of the accessibility tree), the DOM stays, and its
// scroll positions, focus and title are kept. The lock dialog (an
// alertdialog with aria-modal) opens with the reason announced, focus in
// it and Tab kept inside, the user name from [Config.UserName]. Signing in
// as [Config.User] resumes every tab: the CSRF tokens of the page are
// replaced, the counter restarts, and each fetch refused with 401 while
// locked is sent once more, the old token replaced by the new one in its
// headers and form or text body, its promise resolving with that answer.
// Another user goes to "start_url" with location.replace.
//
// window.logoutPreview(seconds), or a click on an element with
// data-logout-preview="seconds" (shown by the script when hidden), runs a
// countdown in this tab only, then the lock marked as a preview: Escape or
// "End preview" ends it, and a sign-in there is real.
//
// # Events
//
// The widget fires CustomEvents on document: logout:expired (detail.url,
// the sign-in URL) when it locks or leaves the page, so that the page can
// keep drafts; logout:resumed (detail.user) when the same user signed in
// again, in this tab or another: the page is back as it was, but under a
// new session, so that what it says of the session (when it started, when
// it ends, the list of sessions) is to be read again, as the reference
// backend does; logout:switched (detail.user, the previous user) before
// it leaves for another user's start page, so that the page can drop the
// previous user's drafts.
//
// Elements with the attribute data-logout-sign-out (the dialog's "Sign out
// now" button, and any sign-out button of the page) sign out through the
// sign-out endpoint and sign out every tab; without JavaScript such a button
// in a form still posts the form.
package widget
