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
	"log/slog"
	"net/url"
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
	key []byte // 16 bytes (AES-128-CBC) or 32 bytes (AES-256-CBC)
}

// ParseLaravelKey reads an APP_KEY as Laravel's .env holds it:
// "base64:" followed by the standard base64 of 16 or 32 bytes, or (old
// applications) the 16 or 32 bytes themselves.
func ParseLaravelKey(s string) (*LaravelKey, error) {
	s = strings.TrimSpace(s)
	var k []byte
	if b64, ok := strings.CutPrefix(s, "base64:"); ok {
		var err error
		if k, err = base64.StdEncoding.DecodeString(b64); err != nil {
			return nil, errors.New("proxy: Laravel APP_KEY: the part after base64: is not valid base64")
		}
	} else {
		k = []byte(s)
	}
	if len(k) != 16 && len(k) != 32 {
		return nil, errors.New("proxy: Laravel APP_KEY: want 16 or 32 bytes (AES-128-CBC or AES-256-CBC), such as base64: and 44 characters, got " +
			strconv.Itoa(len(k)) + " bytes")
	}
	return &LaravelKey{key: k}, nil
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
// cookie name with value as the browser sends it (URL-encoded). It
// reports false for anything not encrypted with k as Laravel encrypts a
// cookie: a bad MAC (compared in constant time), a bad IV or padding,
// bad JSON, a plaintext other than "<CookieValuePrefix>|<id>" (Laravel
// 6.18.35, 7.22.4 and later) or the PHP-serialized s:40:"<id>"; of older
// versions, or an ID other than Laravel's 40 letters and digits. Such a
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
	if err := json.Unmarshal(js, &pl); err != nil || pl.IV == "" || pl.Value == "" || pl.MAC == "" {
		return "", false
	}
	if pl.Tag != nil && *pl.Tag != "" {
		return "", false // an AEAD tag: not a CBC payload
	}
	mac := hmac.New(sha256.New, k.key)
	mac.Write([]byte(pl.IV))
	mac.Write([]byte(pl.Value))
	want := hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(pl.MAC)) {
		return "", false
	}
	iv, err := base64.StdEncoding.DecodeString(pl.IV)
	if err != nil || len(iv) != aes.BlockSize {
		return "", false
	}
	ct, err := base64.StdEncoding.DecodeString(pl.Value)
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", false
	}
	block, err := aes.NewCipher(k.key)
	if err != nil {
		return "", false
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ct)
	pt, ok := unpad(pt)
	if !ok {
		return "", false
	}
	return k.sessionIDOf(name, string(pt))
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
func (k *LaravelKey) cookiePrefix(name string) string {
	mac := hmac.New(sha1.New, k.key)
	mac.Write([]byte(name + "v2"))
	return hex.EncodeToString(mac.Sum(nil)) + "|"
}

// sessionIDOf reads the session ID from a decrypted cookie: the prefixed
// form, or the PHP-serialized string of old versions (bare or prefixed).
func (k *LaravelKey) sessionIDOf(name, pt string) (string, bool) {
	prefix := k.cookiePrefix(name)
	id, ok := strings.CutPrefix(pt, prefix)
	if !ok {
		s, serialized := phpString(pt)
		if !serialized {
			return "", false
		}
		id, _ = strings.CutPrefix(s, prefix)
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
