package backend

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokensPath is the API tokens page below the prefix: System › API
// tokens, for a user with both permissions, since a write token can do
// what both allow.
const tokensPath = "/system/api-tokens"

// tokenExpiries are the expiries the page offers, in days; 0 is never.
var tokenExpiries = []int{30, 90, 365, 0}

// tokensView is the API tokens page's data.
type tokensView struct {
	Tokens   []tokenRow
	Created  string // the token just made, shown once
	Name     string // the create form's name, kept after an error
	Scope    string
	Expiry   int
	Error    string
	Expiries []int
	API      string // the API's URL path
	Doc      string // its description's
}

// A tokenRow is one token as the page lists it.
type tokenRow struct {
	ID, Name, Scope, Created, Expires, LastUsed string
	Expired                                     bool
}

// canTokens serves h only for a user with both permissions.
func (a *App) canTokens(h userHandler) http.Handler {
	return a.need(PermSettings, func(w http.ResponseWriter, r *http.Request, u *user) {
		if !u.Can(PermSessions) {
			a.fail(w, r, u, http.StatusForbidden, "error.forbidden")
			return
		}
		h(w, r, u)
	})
}

// tokensPage lists the tokens, with the form that makes one.
func (a *App) tokensPage(w http.ResponseWriter, r *http.Request, u *user) {
	a.showTokens(w, r, u, http.StatusOK, tokensView{Scope: ScopeRead, Expiry: 90})
}

// showTokens renders the page with v and the tokens.
func (a *App) showTokens(w http.ResponseWriter, r *http.Request, u *user, code int, v tokensView) {
	p := a.page(r, u, "tokens.title")
	p.Active = "tokens"
	doneNotice(p, r, "revoked", "tokens.revoked")
	list, err := a.users.tokens(r.Context())
	if err != nil {
		a.internal(w, r, u, err)
		return
	}
	now := a.now()
	for _, t := range list {
		row := tokenRow{ID: t.ID, Name: t.Name, Scope: t.Scope, Created: formatTime(t.Created), Expires: p.T("tokens.never"),
			LastUsed: p.T("tokens.never"), Expired: t.Expired(now)}
		if !t.Expires.IsZero() {
			row.Expires = formatTime(t.Expires)
		}
		if !t.LastUsed.IsZero() {
			row.LastUsed = formatTime(t.LastUsed)
		}
		v.Tokens = append(v.Tokens, row)
	}
	v.Expiries, v.API, v.Doc = tokenExpiries, a.cfg.Prefix+apiPath, a.cfg.Prefix+openAPIPath
	p.Data = v
	a.render(w, r, code, "tokens", p)
}

// createToken makes a token from the form and shows it once.
func (a *App) createTokenForm(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	tr := a.cat.lang(pickLang(r))
	v := tokensView{Name: strings.TrimSpace(r.PostForm.Get("name")), Scope: r.PostForm.Get("scope")}
	days, err := strconv.Atoi(r.PostForm.Get("expires"))
	if err != nil || (days != 0 && days != 30 && days != 90 && days != 365) || (v.Scope != ScopeRead && v.Scope != ScopeWrite) {
		a.fail(w, r, u, http.StatusBadRequest, "error.bad_request")
		return
	}
	v.Expiry = days
	t, secret, err := a.users.createToken(r.Context(), v.Name, v.Scope, time.Duration(days)*24*time.Hour, a.now())
	switch {
	case errors.Is(err, ErrTokenExists):
		v.Error = tr.T("tokens.err.exists")
	case err != nil && checkTokenName(v.Name) != nil:
		v.Error = tr.T("tokens.err.name")
	case err != nil:
		a.internal(w, r, u, err)
		return
	}
	if v.Error != "" {
		a.showTokens(w, r, u, http.StatusUnprocessableEntity, v)
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: API token created", slog.String("token", t.Name), slog.String("token_id", t.ID),
		slog.String("scope", t.Scope), slog.Time("expires", t.Expires), slog.String("by", u.Name))
	a.showTokens(w, r, u, http.StatusOK, tokensView{Created: secret, Name: t.Name, Scope: ScopeRead, Expiry: 90})
}

// revokeTokenForm revokes the token of the form's ID.
func (a *App) revokeTokenForm(w http.ResponseWriter, r *http.Request, u *user) {
	if !a.readForm(w, r, u, maxFormBytes) || !a.checkCSRF(w, r, u) {
		return
	}
	t, err := a.users.revokeToken(r.Context(), r.PostForm.Get("id"))
	switch {
	case errors.Is(err, ErrNoToken):
		a.fail(w, r, u, http.StatusNotFound, "error.not_found")
		return
	case err != nil:
		a.internal(w, r, u, err)
		return
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "backend: API token revoked", slog.String("token", t.Name), slog.String("token_id", t.ID), slog.String("by", u.Name))
	http.Redirect(w, r, a.cfg.Prefix+tokensPath+"?done=revoked&n=1", http.StatusSeeOther)
}
