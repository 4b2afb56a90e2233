package proxy

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// A LaravelKey is a Laravel application's APP_KEY, with which the proxy
// decrypts a Laravel panel's encrypted session cookie (OctoberCMS's
// october_session) to key its sessions by the stable session ID inside:
// Laravel re-encrypts the cookie with a fresh IV on every response, so
// the cookie's value itself changes every time.
//
// The key is a secret: its String, GoString, LogValue and MarshalText
// never show it, and the errors of [ParseLaravelKey] never quote it.
type LaravelKey struct {
	// keys are the APP_KEY, then the APP_PREVIOUS_KEYS: 16 bytes
	// (AES-128-CBC or -GCM) or 32 bytes (AES-256-CBC or -GCM) each.
	keys [][]byte
}

// ParseLaravelKey reads an APP_KEY as Laravel's .env holds it:
// "base64:" followed by the standard base64 of 16 or 32 bytes, or (old
// applications) the 16 or 32 bytes themselves. The previous keys are
// those of APP_PREVIOUS_KEYS (Laravel 11 and later, key rotation), in
// the same form: a cookie sealed with one of them is read too, as Laravel
// reads it. Empty previous keys are skipped.
func ParseLaravelKey(appKey string, previous ...string) (*LaravelKey, error) {
	k, err := parseOneKey(appKey)
	if err != nil {
		return nil, fmt.Errorf("proxy: Laravel APP_KEY: %w", err)
	}
	lk := &LaravelKey{keys: [][]byte{k}}
	for i, s := range previous {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := parseOneKey(s)
		if err != nil { // names the key's place, never the key
			return nil, fmt.Errorf("proxy: Laravel APP_PREVIOUS_KEYS, key %d: %w", i+1, err)
		}
		lk.keys = append(lk.keys, k)
	}
	return lk, nil
}

// parseOneKey reads one key; its errors never quote it.
func parseOneKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var k []byte
	if b64, ok := strings.CutPrefix(s, "base64:"); ok {
		var err error
		if k, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return nil, errors.New("the part after base64: is not valid base64")
		}
	} else {
		k = []byte(s)
	}
	if len(k) != 16 && len(k) != 32 {
		return nil, errors.New("want 16 or 32 bytes (AES-128 or AES-256), such as base64: and 44 characters, got " +
			strconv.Itoa(len(k)) + " bytes")
	}
	return k, nil
}

const redacted = "[redacted Laravel APP_KEY]"

// String returns a placeholder, never the key.
func (k *LaravelKey) String() string { return redacted }

// GoString returns a placeholder, never the key.
func (k *LaravelKey) GoString() string { return redacted }

// LogValue implements slog.LogValuer with a placeholder.
func (k *LaravelKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns a placeholder, so that the key never reaches JSON.
func (k *LaravelKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// maxLaravelCookie bounds the cookie values the proxy tries to decrypt.
const maxLaravelCookie = 4096

// laravelPayload is the JSON inside an encrypted Laravel value.
type laravelPayload struct {
	IV    string  `json:"iv"`
	Value string  `json:"value"`
	MAC   string  `json:"mac"`
	Tag   *string `json:"tag"`
}

// DecryptCookie returns the session ID held by the Laravel session
// cookie name with value as the browser sends it (URL-encoded), sealed
// with the APP_KEY or one of the previous keys. It reports false for
// anything not encrypted with them as Laravel encrypts a cookie: with
// AES-CBC, a bad MAC (compared in constant time), a bad IV or padding;
// with AES-GCM (a payload with a tag), a bad tag or nonce; bad JSON; a
// plaintext other than "<CookieValuePrefix>|<id>" (Laravel 6.18.35,
// 7.22.4 and later) or the PHP-serialized s:40:"<id>"; of older
// versions; or an ID other than Laravel's 40 letters and digits. Such a
// cookie is an anonymous visitor's.
func (k *LaravelKey) DecryptCookie(name, value string) (string, bool) {
	if k == nil || len(value) > maxLaravelCookie {
		return "", false
	}
	raw, err := url.PathUnescape(value)
	if err != nil {
		return "", false
	}
	js, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", false
	}
	var pl laravelPayload
	if err := json.Unmarshal(js, &pl); err != nil || pl.IV == "" || pl.Value == "" {
		return "", false
	}
	iv, err := base64.StdEncoding.DecodeString(pl.IV)
	if err != nil {
		return "", false
	}
	ct, err := base64.StdEncoding.DecodeString(pl.Value)
	if err != nil || len(ct) == 0 {
		return "", false
	}
	aead := pl.Tag != nil && *pl.Tag != ""
	for _, key := range k.keys {
		var pt []byte
		var ok bool
		if aead {
			pt, ok = openGCM(key, iv, ct, *pl.Tag)
		} else {
			pt, ok = openCBC(key, iv, ct, pl)
		}
		if ok {
			return k.sessionIDOf(name, string(pt))
		}
	}
	return "", false
}

// errNotSealed is DecodeKey's error: it never quotes the value.
var errNotSealed = errors.New("proxy: not a Laravel cookie sealed with the APP_KEY or a previous key")

// DecodeKey is [LaravelKey.DecryptCookie] as a [Profile.DecodeKey]: the
// session ID, or an error for a cookie that is not sealed with k's keys
// as Laravel seals a session cookie.
func (k *LaravelKey) DecodeKey(name, value string) (string, error) {
	id, ok := k.DecryptCookie(name, value)
	if !ok {
		return "", errNotSealed
	}
	return id, nil
}

// openCBC checks the MAC of an AES-CBC payload with key and decrypts it.
func openCBC(key, iv, ct []byte, pl laravelPayload) ([]byte, bool) {
	if pl.MAC == "" || len(iv) != aes.BlockSize || len(ct)%aes.BlockSize != 0 {
		return nil, false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(pl.IV))
	mac.Write([]byte(pl.Value))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(pl.MAC)) {
		return nil, false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	return unpad(pt)
}

// openGCM decrypts an AES-GCM payload (Laravel's aes-128-gcm and
// aes-256-gcm: a 12-byte IV, a 16-byte tag, no MAC) with key.
func openGCM(key, iv, ct []byte, tag64 string) ([]byte, bool) {
	tag, err := base64.StdEncoding.DecodeString(tag64)
	if err != nil || len(tag) != 16 || len(iv) != 12 {
		return nil, false
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, false
	}
	pt, err := gcm.Open(nil, iv, append(slices.Clip(ct), tag...), nil)
	return pt, err == nil
}

// unpad removes PKCS#7 padding, reporting false for a bad one.
func unpad(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize || n > len(b) {
		return nil, false
	}
	var bad byte
	for _, c := range b[len(b)-n:] {
		bad |= c ^ byte(n)
	}
	if bad != 0 {
		return nil, false
	}
	return b[:len(b)-n], true
}

// cookiePrefix is Laravel's CookieValuePrefix::create(name, key):
// hex(HMAC-SHA1(key, name + "v2")) + "|".
func cookiePrefix(name string, key []byte) string {
	mac := hmac.New(sha1.New, key)
	mac.Write([]byte(name + "v2"))
	return hex.EncodeToString(mac.Sum(nil)) + "|"
}

// cutPrefix removes the CookieValuePrefix of any of k's keys from s, as
// Laravel 11's CookieValuePrefix::validate accepts any of them.
func (k *LaravelKey) cutPrefix(name, s string) (string, bool) {
	for _, key := range k.keys {
		if rest, ok := strings.CutPrefix(s, cookiePrefix(name, key)); ok {
			return rest, true
		}
	}
	return s, false
}

// sessionIDOf reads the session ID from a decrypted cookie: the prefixed
// form, or the PHP-serialized string of old versions (bare or prefixed).
func (k *LaravelKey) sessionIDOf(name, pt string) (string, bool) {
	id, ok := k.cutPrefix(name, pt)
	if !ok {
		s, serialized := phpString(pt)
		if !serialized {
			return "", false
		}
		id, _ = k.cutPrefix(name, s)
	}
	if !isSessionID(id) {
		return "", false
	}
	return id, true
}

// phpString reads a PHP-serialized string, s:<len>:"<bytes>";.
func phpString(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "s:")
	if !ok {
		return "", false
	}
	num, rest, ok := strings.Cut(rest, ":")
	if !ok || num == "" || len(num) > 4 || strings.TrimLeft(num, "0123456789") != "" {
		return "", false
	}
	n, _ := strconv.Atoi(num)
	if len(rest) != n+3 || rest[0] != '"' || rest[n+1:] != `";` {
		return "", false
	}
	return rest[1 : n+1], true
}

// isSessionID reports whether s is a Laravel session ID: 40 ASCII
// letters and digits (Str::random(40)).
func isSessionID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
