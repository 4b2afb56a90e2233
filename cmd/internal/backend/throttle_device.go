package backend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gologout/logout"
)

// The device cookie, after OWASP's "Slow down online guessing attacks
// with device cookies": a browser that signed in successfully as an
// account gets a signed cookie naming the account, and its later attempts
// for that account are limited per device instead of by the account-wide
// and address-wide counts that an attacker can drive up. Under TLS the
// cookie carries the __Host- prefix, like the pre-session cookie.
const (
	deviceCookie = "logout_device"
	// deviceMaxAge is how long a device cookie is honoured after the
	// sign-in that issued it.
	deviceMaxAge = 90 * 24 * time.Hour
	// deviceAccounts is how many accounts one cookie holds, the most
	// recent first.
	deviceAccounts = 4
)

// A device is what a valid device cookie says.
type device struct {
	ID       string   `json:"id"`  // random, 128 bits; kept across sign-ins
	Issued   int64    `json:"iat"` // Unix seconds of the last successful sign-in
	Accounts []string `json:"acc"` // accountKey of each account, the most recent first
}

func (a *App) deviceCookieName(r *http.Request) string {
	return logout.SecureCookieName(deviceCookie, a.secure(r))
}

// deviceMAC signs a device cookie's payload.
func (a *App) deviceMAC(payload string) []byte {
	mac := hmac.New(sha256.New, a.deviceKey)
	mac.Write([]byte("device\x00" + payload))
	return mac.Sum(nil)
}

// readDevice returns the request's device cookie if it is signed by this
// backend and not older than deviceMaxAge.
func (a *App) readDevice(r *http.Request) (device, bool) {
	c, err := r.Cookie(a.deviceCookieName(r))
	if err != nil {
		return device{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return device{}, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, a.deviceMAC(payload)) {
		return device{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	var d device
	if err != nil || json.Unmarshal(raw, &d) != nil || d.ID == "" {
		return device{}, false
	}
	if a.now().Sub(time.Unix(d.Issued, 0)) > deviceMaxAge {
		return device{}, false
	}
	return d, true
}

// deviceFor returns the ID of the request's device cookie if it holds
// the account, else "".
func (a *App) deviceFor(r *http.Request, account string) string {
	if d, ok := a.readDevice(r); ok && slices.Contains(d.Accounts, account) {
		return d.ID
	}
	return ""
}

// issueDevice sets the device cookie after a successful sign-in as the
// account: the browser's cookie, if valid, with the account put first,
// or a new one.
func (a *App) issueDevice(w http.ResponseWriter, r *http.Request, account string) {
	d, ok := a.readDevice(r)
	if !ok {
		d = device{ID: rand.Text()}
	}
	d.Issued = a.now().Unix()
	d.Accounts = append([]string{account}, slices.DeleteFunc(d.Accounts, func(s string) bool { return s == account })...)
	d.Accounts = d.Accounts[:min(len(d.Accounts), deviceAccounts)]
	raw, _ := json.Marshal(d) // strings and an int: never fails
	payload := base64.RawURLEncoding.EncodeToString(raw)
	http.SetCookie(w, &http.Cookie{
		Name: a.deviceCookieName(r), Value: payload + "." + base64.RawURLEncoding.EncodeToString(a.deviceMAC(payload)),
		Path: "/", MaxAge: int(deviceMaxAge / time.Second), HttpOnly: true,
		Secure: a.secure(r), SameSite: http.SameSiteLaxMode,
	})
}
