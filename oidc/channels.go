package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/gologout/logout"
)

// BackChannel returns the handler of OpenID Connect Back-Channel Logout
// 1.0, to mount at the URL registered at the provider as the client's
// backchannel_logout_uri. It takes POST only (405 otherwise), with a body
// of type application/x-www-form-urlencoded of at most 64 KiB holding one
// logout_token. A token that [RP.VerifyLogoutToken] accepts and whose jti
// the [ReplayCache] has not seen ends the sessions it names, on every
// instance that shares the [logout.Store], with [logout.ReasonProvider]:
// those of the provider session (sid) when the token has one, else every
// session of the subject (sub) that signed in through this provider. It
// answers 200 with Cache-Control: no-store, also when no session matched
// (the provider may know sessions that already ended here).
//
// Anything else gets 400 and changes nothing: a missing, repeated or
// invalid token, a replayed jti, or a store that fails (the jti is then
// forgotten, so that the provider may send the token again). The answer
// never says why; the log does, without the token.
func (rp *RP) BackChannel() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := rp.backChannel(w, r); err != nil {
			rp.log.WarnContext(r.Context(), "oidc: back-channel logout refused", "err", err)
			http.Error(w, "invalid logout request", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}

var errRequest = errors.New("oidc: not a logout request")

func (rp *RP) backChannel(w http.ResponseWriter, r *http.Request) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return errRequest
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return errRequest
	}
	raw := r.PostForm["logout_token"]
	if len(raw) != 1 || raw[0] == "" {
		return errRequest
	}
	t, err := rp.VerifyLogoutToken(r.Context(), raw[0])
	if err != nil {
		return err
	}
	key := replayKey(t.Issuer, t.ID)
	until := t.IssuedAt.Add(rp.opts.MaxTokenAge + 2*rp.opts.Leeway)
	fresh, err := rp.replay.Add(r.Context(), key, until, rp.now())
	if err != nil {
		return err
	}
	if !fresh {
		return invalid("jti used before")
	}
	if err := rp.end(r.Context(), "back-channel", t.Issuer, t.SessionID, t.Subject); err != nil {
		// Let the provider send it again.
		if rerr := rp.replay.Remove(context.WithoutCancel(r.Context()), key); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return nil
}

// replayKey is the ReplayCache key of a logout token: a hash, so that no
// provider value is kept as it is.
func replayKey(iss, jti string) string {
	h := sha256.Sum256([]byte(iss + " " + jti))
	return "oidc:jti:" + hex.EncodeToString(h[:])
}

// end ends the sessions of the provider session sid, or, when sid is "",
// of the subject sub.
func (rp *RP) end(ctx context.Context, channel, iss, sid, sub string) error {
	tag := SessionTag(iss, sid)
	if sid == "" {
		tag = SubjectTag(iss, sub)
	}
	evs, err := rp.m.EndSessions(ctx, logout.Selector{Tag: tag}, logout.ReasonProvider)
	if err != nil {
		return err
	}
	rp.log.InfoContext(ctx, "oidc: the provider ended a session", "channel", channel, "tag", short(tag), "sessions", len(evs))
	return nil
}

// FrontChannel returns the handler of OpenID Connect Front-Channel Logout
// 1.0, for providers that offer no back-channel logout: mount it at the
// URL registered as the client's frontchannel_logout_uri, with
// frontchannel_logout_session_required on, so that the provider's logout
// page frames it with its iss and sid. It takes GET and HEAD only (405
// otherwise). When iss is exactly [Options.Issuer] and sid is given, it
// ends the sessions of that provider session on every instance, with
// [logout.ReasonProvider], as [RP.BackChannel] does, and answers 200
// with Cache-Control: no-store and a blank page that only the provider's
// origin may frame ([Options.FrontChannelWithoutIssuer] lets iss be
// missing). Anything else (no or another iss, no sid, a request
// that a browser says is not for a frame) gets 400 and changes nothing.
//
// The request carries no signature: whoever knows an (iss, sid) pair can
// end those sessions, which sid, a random value that the provider gives
// only in tokens, makes hard. Prefer the back-channel when the provider
// offers it. Cookies play no part: browsers do not send SameSite=Lax
// cookies to a frame of another site.
func (rp *RP) FrontChannel() http.Handler {
	ancestors := "'none'"
	if u, err := url.Parse(rp.opts.Issuer); err == nil {
		ancestors = u.Scheme + "://" + u.Host
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors "+ancestors)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		q := r.URL.Query()
		iss, sid := q["iss"], q["sid"]
		if len(iss) == 0 && rp.opts.FrontChannelWithoutIssuer {
			iss = []string{rp.opts.Issuer}
		}
		var err error
		switch {
		case len(iss) != 1 || iss[0] != rp.opts.Issuer:
			err = errors.New("oidc: front-channel logout: iss is missing or not the issuer")
		case len(sid) != 1 || sid[0] == "" || len(sid[0]) > 1024:
			err = errors.New("oidc: front-channel logout: no sid")
		case r.Header.Get("Sec-Fetch-Dest") != "" && r.Header.Get("Sec-Fetch-Dest") != "iframe":
			err = errors.New("oidc: front-channel logout: not a frame")
		default:
			err = rp.end(r.Context(), "front-channel", iss[0], sid[0], "")
		}
		if err != nil {
			rp.log.WarnContext(r.Context(), "oidc: front-channel logout refused", "err", err)
			http.Error(w, "invalid logout request", http.StatusBadRequest)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><title>Signed out</title>\n"))
	})
}
