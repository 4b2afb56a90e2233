package oidc

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// A sealer seals small values with AES-256-GCM: what it seals can be
// neither read nor changed without its key, and a value sealed for one
// purpose does not open for another.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (sealer, error) {
	k, err := hkdf.Key(sha256.New, key, nil, "github.com/gologout/logout/oidc cookie seal", 32)
	if err != nil {
		return sealer{}, fmt.Errorf("oidc: cookie key: %w", err)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return sealer{}, fmt.Errorf("oidc: cookie key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, fmt.Errorf("oidc: cookie key: %w", err)
	}
	return sealer{aead}, nil
}

// sealed is what a sealer seals: a value and when it stops opening.
type sealed[T any] struct {
	V T     `json:"v"`
	X int64 `json:"x"` // Unix seconds
}

// seal seals v for purpose until exp, as URL-safe base64.
func seal[T any](s sealer, purpose string, v T, exp time.Time) (string, error) {
	plain, err := json.Marshal(sealed[T]{V: v, X: exp.Unix()})
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

var errUnseal = errors.New("oidc: sealed value does not open")

// unseal opens what seal sealed for purpose, if it has not expired at now.
func unseal[T any](s sealer, purpose, text string, now time.Time) (T, error) {
	var zero T
	if len(text) > 8192 {
		return zero, errUnseal
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(b) < s.aead.NonceSize()+s.aead.Overhead() {
		return zero, errUnseal
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(purpose))
	if err != nil {
		return zero, errUnseal
	}
	var v sealed[T]
	if err := json.Unmarshal(plain, &v); err != nil || !now.Before(time.Unix(v.X, 0)) {
		return zero, errUnseal
	}
	return v.V, nil
}
