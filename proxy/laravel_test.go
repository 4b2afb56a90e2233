package proxy_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/internal/fakeclock"
	"github.com/gologout/logout/proxy"
)

// laravelSealed is what laravelEncrypt builds, for tests to tamper with.
type laravelSealed struct {
	IV    string `json:"iv"`
	Value string `json:"value"`
	MAC   string `json:"mac"`
	Tag   string `json:"tag"`
}

// laravelEncrypt encrypts plaintext as Laravel's Encrypter does
// (AES-CBC by key length, PKCS#7, HMAC-SHA256 of iv+value in hex), with
// mod to
// tamper with the payload, and URL-encodes it as a cookie. The IV is
// fresh each time, as Laravel's.
func laravelEncrypt(t testing.TB, key []byte, plaintext string, mod func(*laravelSealed)) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, aes.BlockSize)
	rand.Read(iv)
	n := aes.BlockSize - len(plaintext)%aes.BlockSize
	pt := append([]byte(plaintext), bytes.Repeat([]byte{byte(n)}, n)...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	s := laravelSealed{IV: base64.StdEncoding.EncodeToString(iv), Value: base64.StdEncoding.EncodeToString(ct)}
	s.MAC = laravelMAC(key, s)
	if mod != nil {
		mod(&s)
	}
	js, _ := json.Marshal(s)
	return url.PathEscape(base64.StdEncoding.EncodeToString(js))
}

// laravelMAC is Laravel's hash_hmac('sha256', iv.value, key).
func laravelMAC(key []byte, s laravelSealed) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s.IV + s.Value))
	return hex.EncodeToString(m.Sum(nil))
}

// laravelCookiePrefix is CookieValuePrefix::create(name, key).
func laravelCookiePrefix(name string, key []byte) string {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(name + "v2"))
	return hex.EncodeToString(m.Sum(nil)) + "|"
}

// rawCBC encrypts already padded (or deliberately badly padded) bytes.
func rawCBC(t testing.TB, key, pt []byte) string {
	block, _ := aes.NewCipher(key)
	iv := make([]byte, aes.BlockSize)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, pt)
	s := laravelSealed{IV: base64.StdEncoding.EncodeToString(iv), Value: base64.StdEncoding.EncodeToString(ct)}
	s.MAC = laravelMAC(key, s)
	js, _ := json.Marshal(s)
	return url.PathEscape(base64.StdEncoding.EncodeToString(js))
}

const testSID = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz"

func TestLaravelDecryptCookie(t *testing.T) {
	key32 := bytes.Repeat([]byte{7}, 32)
	key16 := []byte("0123456789abcdef")
	other := bytes.Repeat([]byte{8}, 32)
	const name = "october_session"
	pre32 := laravelCookiePrefix(name, key32)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name   string
		key    []byte
		cookie string
		want   string // "" refused
	}{
		{"prefixed AES-256", key32, laravelEncrypt(t, key32, pre32+testSID, nil), testSID},
		{"prefixed AES-128", key16, laravelEncrypt(t, key16, laravelCookiePrefix(name, key16)+testSID, nil), testSID},
		{"old serialized", key32, laravelEncrypt(t, key32, `s:40:"`+testSID+`";`, nil), testSID},
		{"serialized prefixed", key32, laravelEncrypt(t, key32, fmt.Sprintf(`s:%d:"%s";`, len(pre32+testSID), pre32+testSID), nil), testSID},
		{"not URL-encoded", key32, func() string { v, _ := url.PathUnescape(laravelEncrypt(t, key32, pre32+testSID, nil)); return v }(), testSID},
		{"bare ID", key32, laravelEncrypt(t, key32, testSID, nil), ""},
		{"prefix of another cookie", key32, laravelEncrypt(t, key32, laravelCookiePrefix("XSRF-TOKEN", key32)+testSID, nil), ""},
		{"serialized wrong length", key32, laravelEncrypt(t, key32, `s:41:"`+testSID+`";`, nil), ""},
		{"serialized array", key32, laravelEncrypt(t, key32, `a:1:{i:0;s:40:"`+testSID+`";}`, nil), ""},
		{"short ID", key32, laravelEncrypt(t, key32, pre32+"abc", nil), ""},
		{"ID with punctuation", key32, laravelEncrypt(t, key32, pre32+strings.Repeat("a", 39)+"/", nil), ""},
		{"wrong key", other, laravelEncrypt(t, key32, pre32+testSID, nil), ""},
		{"wrong key length AES-128 vs 256", key16, laravelEncrypt(t, key32, pre32+testSID, nil), ""},
		{"tampered MAC", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) { s.MAC = strings.Repeat("0", 64) }), ""},
		{"upper-case MAC", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) { s.MAC = strings.ToUpper(s.MAC) }), ""},
		{"tampered value", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) { s.Value = otherFirst(s.Value) }), ""},
		{"flipped IV, MAC recomputed with another key", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) {
			s.IV = b64(strings.Repeat("x", 16))
			s.MAC = laravelMAC(other, *s)
		}), ""},
		{"short IV with valid MAC", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) {
			s.IV = b64("short")
			s.MAC = laravelMAC(key32, *s)
		}), ""},
		{"GCM tag", key32, laravelEncrypt(t, key32, pre32+testSID, func(s *laravelSealed) { s.Tag = "abc" }), ""},
		{"bad padding", key32, rawCBC(t, key32, append([]byte(pre32+testSID), bytes.Repeat([]byte{0}, 15)...)), ""},
		{"padding over a block", key32, rawCBC(t, key32, append([]byte(pre32+testSID), bytes.Repeat([]byte{17}, 15)...)), ""},
		{"no padding", key32, rawCBC(t, key32, []byte(pre32+testSID+strings.Repeat("b", 15))), ""},
		{"inconsistent padding", key32, rawCBC(t, key32, append([]byte(strings.Repeat("a", 29)), 1, 2, 3)), ""},
		{"bad JSON", key32, b64(`{"iv":`), ""},
		{"JSON without mac", key32, b64(`{"iv":"AAAAAAAAAAAAAAAAAAAAAA==","value":"AAAAAAAAAAAAAAAAAAAAAA=="}`), ""},
		{"not base64", key32, "%%%", ""},
		{"plain session ID", key32, testSID, ""},
		{"empty", key32, "", ""},
		{"huge", key32, strings.Repeat("A", 10000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := proxy.ParseLaravelKey("base64:" + base64.StdEncoding.EncodeToString(tt.key))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := k.DecryptCookie(name, tt.cookie)
			if got != tt.want || ok != (tt.want != "") {
				t.Fatalf("DecryptCookie = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

// laravelEncryptGCM encrypts plaintext as Laravel's Encrypter does with
// aes-128-gcm or aes-256-gcm (by key length): a 12-byte IV, the tag
// apart, no MAC.
func laravelEncryptGCM(t testing.TB, key []byte, plaintext string, mod func(*laravelSealed)) string {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, gcm.NonceSize())
	rand.Read(iv)
	sealed := gcm.Seal(nil, iv, []byte(plaintext), nil)
	ct, tag := sealed[:len(sealed)-gcm.Overhead()], sealed[len(sealed)-gcm.Overhead():]
	s := laravelSealed{IV: base64.StdEncoding.EncodeToString(iv), Value: base64.StdEncoding.EncodeToString(ct), Tag: base64.StdEncoding.EncodeToString(tag)}
	if mod != nil {
		mod(&s)
	}
	js, _ := json.Marshal(s)
	return url.PathEscape(base64.StdEncoding.EncodeToString(js))
}

// TestLaravelPreviousKeys: cookies sealed with a key of APP_PREVIOUS_KEYS
// (Laravel 11 key rotation), and AES-GCM cookies, are read as Laravel
// reads them.
func TestLaravelPreviousKeys(t *testing.T) {
	cur := bytes.Repeat([]byte{1}, 32)
	prev := bytes.Repeat([]byte{2}, 32)
	older := bytes.Repeat([]byte{3}, 16)
	unknown := bytes.Repeat([]byte{4}, 32)
	const name = "october_session"
	pre := func(k []byte) string { return laravelCookiePrefix(name, k) + testSID }
	enc := func(k []byte) string { return "base64:" + base64.StdEncoding.EncodeToString(k) }
	tests := []struct {
		name     string
		previous []string
		cookie   string
		want     bool
	}{
		{"current key", []string{enc(prev)}, laravelEncrypt(t, cur, pre(cur), nil), true},
		{"previous key", []string{enc(prev)}, laravelEncrypt(t, prev, pre(prev), nil), true},
		{"second previous key, AES-128", []string{enc(prev), enc(older)}, laravelEncrypt(t, older, pre(older), nil), true},
		{"previous key, prefix of the current", []string{enc(prev)}, laravelEncrypt(t, prev, pre(cur), nil), true},
		{"previous key not given", nil, laravelEncrypt(t, prev, pre(prev), nil), false},
		{"empty previous keys skipped", []string{"", " "}, laravelEncrypt(t, cur, pre(cur), nil), true},
		{"unknown key", []string{enc(prev)}, laravelEncrypt(t, unknown, pre(unknown), nil), false},
		{"prefix of an unknown key", []string{enc(prev)}, laravelEncrypt(t, prev, pre(unknown), nil), false},
		{"GCM, current key", nil, laravelEncryptGCM(t, cur, pre(cur), nil), true},
		{"GCM, previous key", []string{enc(prev)}, laravelEncryptGCM(t, prev, pre(prev), nil), true},
		{"GCM, AES-128", []string{enc(older)}, laravelEncryptGCM(t, older, pre(older), nil), true},
		{"GCM, tampered tag", nil, laravelEncryptGCM(t, cur, pre(cur), func(s *laravelSealed) {
			s.Tag = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 16))
		}), false},
		{"GCM, short tag", nil, laravelEncryptGCM(t, cur, pre(cur), func(s *laravelSealed) { s.Tag = s.Tag[:8] }), false},
		{"GCM, tag dropped", nil, laravelEncryptGCM(t, cur, pre(cur), func(s *laravelSealed) { s.Tag = "" }), false},
		{"GCM, unknown key", []string{enc(prev)}, laravelEncryptGCM(t, unknown, pre(unknown), nil), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := proxy.ParseLaravelKey(enc(cur), tt.previous...)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := k.DecryptCookie(name, tt.cookie)
			if ok != tt.want || (ok && got != testSID) {
				t.Fatalf("DecryptCookie = %q, %v; want ok %v", got, ok, tt.want)
			}
		})
	}
	t.Run("bad previous key", func(t *testing.T) {
		_, err := proxy.ParseLaravelKey(enc(cur), enc(prev), "base64:c2VjcmV0LXNob3J0")
		if err == nil || !strings.Contains(err.Error(), "APP_PREVIOUS_KEYS, key 2") || strings.Contains(err.Error(), "c2VjcmV0") {
			t.Fatalf("got %v, want an error naming key 2 and not showing it", err)
		}
	})
}

func TestLaravelKeyParse(t *testing.T) {
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 32))
	tests := []struct {
		in string
		ok bool
	}{
		{"base64:" + secret, true},
		{"base64:" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")), true},
		{"0123456789abcdef0123456789abcdef", true}, // an old raw 32-byte key
		{"base64:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("k"), 24)), false},
		{"base64:not*base64*" + secret, false},
		{"", false},
		{"short-secret-value", false},
	}
	for _, tt := range tests {
		k, err := proxy.ParseLaravelKey(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseLaravelKey(%q): %v, want ok %v", tt.in, err, tt.ok)
		}
		if err != nil && tt.in != "" && (strings.Contains(err.Error(), tt.in) || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "short-secret")) {
			t.Errorf("ParseLaravelKey's error echoes the key: %v", err)
		}
		if k == nil {
			continue
		}
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "key", k)
		js, _ := json.Marshal(struct{ K *proxy.LaravelKey }{k})
		for _, shown := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k), logged.String(), string(js)} {
			if strings.Contains(shown, secret) || strings.Contains(shown, "0123456789abcdef") || strings.Contains(shown, "kkkk") {
				t.Errorf("the key shows: %s", shown)
			}
		}
	}
}

// FuzzLaravelDecryptCookie: any cookie value is decoded without a panic,
// and only a cookie sealed with the key yields a session ID.
func FuzzLaravelDecryptCookie(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	pre := laravelCookiePrefix("october_session", key)
	f.Add(laravelEncrypt(f, key, pre+testSID, nil))
	f.Add(laravelEncrypt(f, key, `s:40:"`+testSID+`";`, nil))
	f.Add(laravelEncrypt(f, key, "x", nil))
	f.Add(base64.StdEncoding.EncodeToString([]byte(`{"iv":"","value":"","mac":""}`)))
	f.Add("%3D")
	k, _ := proxy.ParseLaravelKey("base64:" + base64.StdEncoding.EncodeToString(key))
	f.Fuzz(func(t *testing.T, cookie string) {
		id, ok := k.DecryptCookie("october_session", cookie)
		if ok != (id != "") || (ok && len(id) != 40) {
			t.Fatalf("DecryptCookie(%q) = %q, %v", cookie, id, ok)
		}
	})
}

// fakeOctoberEncrypted behaves like OctoberCMS with Laravel's
// EncryptCookies: october_session holds "<prefix>|<40-character ID>"
// encrypted with the APP_KEY, sealed again with a fresh IV on every
// response; sign-in renews the ID; sign-out (GET) keeps it, with the
// visitor's cart. It knows only the values it has issued, so a tampered
// cookie is a new visitor.
type fakeOctoberEncrypted struct {
	t         testing.TB
	key       []byte
	mu        sync.Mutex
	n         int
	issued    map[string]string // cookie value → session ID
	signedIn  map[string]bool
	signedOut []string
}

func (f *fakeOctoberEncrypted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := ""
	if c, err := r.Cookie("october_session"); err == nil {
		sid = f.issued[c.Value]
	}
	newID := func(kind string) string { f.n++; return fmt.Sprintf("%s%036d", kind, f.n) }
	if sid == "" {
		sid = newID("anon")
	}
	seal := func() {
		v := laravelEncrypt(f.t, f.key, laravelCookiePrefix("october_session", f.key)+sid, nil)
		f.issued[v] = sid
		http.SetCookie(w, &http.Cookie{Name: "october_session", Value: v, Path: "/", HttpOnly: true})
	}
	switch r.URL.Path {
	case "/backend/backend/auth/signin":
		if r.Method == http.MethodPost {
			sid = newID("user")
			f.signedIn[sid] = true
			seal()
			http.Redirect(w, r, "/backend", http.StatusFound)
			return
		}
	case "/backend/backend/auth/signout":
		delete(f.signedIn, sid)
		f.signedOut = append(f.signedOut, sid)
		seal()
		http.Redirect(w, r, "/backend/backend/auth/signin", http.StatusFound)
		return
	}
	seal()
	w.Header().Set("Content-Type", "text/html")
	fmt.Fprintf(w, "<html><body><div class=mainmenu-accountmenu></div>session:%s admin:%v</body></html>", sid, f.signedIn[sid])
}

// TestOctoberCMSEncryptedCookie: with the APP_KEY, the Logout session
// follows the session ID inside october_session across its re-encryption
// on every response, ends when idle, and the front end keeps the
// visitor's session.
func TestOctoberCMSEncryptedCookie(t *testing.T) {
	key := bytes.Repeat([]byte{42}, 32)
	oc := &fakeOctoberEncrypted{t: t, key: key, issued: map[string]string{}, signedIn: map[string]bool{}}
	up := httptest.NewServer(oc)
	defer up.Close()
	lk, err := proxy.ParseLaravelKey("base64:" + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New()
	p, srv := newProxy(t, up.URL, proxy.OctoberCMS(), clock, func(o *proxy.Options) { o.LaravelKey = lk })
	c := newClient(t, srv.URL)
	sessions := func() []logout.Session {
		t.Helper()
		ss, err := p.Manager().Sessions(context.Background(), logout.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	var anon string
	for i := range 2 {
		resp, body := c.do("GET", "/", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "session:anon") {
			t.Fatalf("front page %d: %d %q", i, resp.StatusCode, body)
		}
		if i == 0 {
			anon = body
		} else if body != anon {
			t.Fatalf("the anonymous visitor's session changed: %q, then %q", anon, body)
		}
	}
	if ss := sessions(); len(ss) != 0 {
		t.Fatalf("an anonymous visitor got sessions: %+v", ss)
	}
	resp, _ := c.do("POST", "/backend/backend/auth/signin", url.Values{"login": {"admin"}, "password": {"x"}})
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	ss := sessions()
	if len(ss) != 1 || ss[0].UserID != proxy.PanelUser("admin") {
		t.Fatalf("sessions after sign-in: %+v", ss)
	}
	first := ss[0].ID
	// Each response re-encrypts the cookie; activity 40 s apart keeps
	// the one session (lifetime 60 s) alive for 120 s.
	var userBody string
	for i := range 3 {
		clock.Advance(40 * time.Second)
		resp, body := c.do("GET", "/backend", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "admin:true") || !strings.Contains(body, "logout-counter") {
			t.Fatalf("backend %d: %d %q", i, resp.StatusCode, body)
		}
		if ss := sessions(); len(ss) != 1 || ss[0].ID != first {
			t.Fatalf("sessions after re-encryption %d: %+v, want the one %s", i, ss, first)
		}
		userBody = body[strings.Index(body, "session:"):]
	}
	if len(oc.issued) < 6 {
		t.Fatalf("the fake issued %d cookie values, want one per response", len(oc.issued))
	}
	clock.Advance(2 * time.Minute)
	resp, body := c.do("GET", "/shop", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, strings.Replace(userBody, "admin:true", "admin:false", 1)) {
		t.Fatalf("front end after the timeout: %d %q; want the same visitor session (%q), signed out of the backend", resp.StatusCode, body, userBody)
	}
	if len(oc.signedOut) != 1 {
		t.Fatalf("October sign-outs: %v, want one", oc.signedOut)
	}
	if resp, _ := c.do("GET", "/backend", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("backend after the timeout: %d, want 303", resp.StatusCode)
	}
	if resp, body := c.do("GET", "/shop", nil); resp.StatusCode != 200 || !strings.Contains(body, "session:user") || len(oc.signedOut) != 1 {
		t.Fatalf("front end again: %d %q, sign-outs %v", resp.StatusCode, body, oc.signedOut)
	}
}

// otherFirst returns v with its first character changed: tampering that
// never leaves the value as it was, whatever the random ciphertext.
func otherFirst(v string) string {
	if v[0] == 'A' {
		return "B" + v[1:]
	}
	return "A" + v[1:]
}
