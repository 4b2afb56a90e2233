package backend

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// API tokens are the bearer tokens of the admin API (see api.go). A
// token is 32 random bytes (256 bits), written as "lgo_" and 43 base64url
// characters; users.db keeps only its SHA-256, its name, scope, times and
// a short random ID to name it by. A token this high in entropy needs no
// slow hash: no one can guess it, and a copy of users.db does not reveal
// it. It is shown once, when it is made.

// The scopes of an API token.
const (
	// ScopeRead reads: sessions, settings, the sign-out log and the
	// settings history.
	ScopeRead = "read"
	// ScopeWrite reads and changes: it also ends sessions and saves the
	// settings.
	ScopeWrite = "write"
)

// tokenPrefix starts every API token, so that a secret scanner can find
// one that leaked.
const tokenPrefix = "lgo_"

// tokensSchema is the table of API tokens in users.db, created beside the
// others by openUsers.
const tokensSchema = `
CREATE TABLE IF NOT EXISTS api_tokens (
	id        TEXT PRIMARY KEY,                   -- 12 hex digits, random: how a token is named in lists and logs
	name      TEXT NOT NULL UNIQUE COLLATE NOCASE,
	hash      BLOB NOT NULL UNIQUE,                -- SHA-256 of the token
	scope     TEXT NOT NULL,                       -- read or write
	created   INTEGER NOT NULL,                    -- Unix seconds
	expires   INTEGER NOT NULL DEFAULT 0,          -- Unix seconds; 0: never
	last_used INTEGER NOT NULL DEFAULT 0           -- Unix seconds; 0: never
);`

// A Token is an API token as listed: everything but the secret, which is
// not kept.
type Token struct {
	ID       string    `json:"id"`    // 12 hex digits
	Name     string    `json:"name"`  // unique, case-insensitively
	Scope    string    `json:"scope"` // ScopeRead or ScopeWrite
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`   // zero: never
	LastUsed time.Time `json:"last_used,omitzero"` // zero: never; updated at most once a minute
}

// Expired reports whether t has expired at now.
func (t Token) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

// Errors of the token functions.
var (
	// ErrTokenExists: a token of that name exists.
	ErrTokenExists = errors.New("backend: a token of that name exists")
	// ErrNoToken: no token has that name or ID.
	ErrNoToken = errors.New("backend: no such token")
)

// checkTokenName refuses names that are empty, long, or hold control
// characters or surrounding spaces.
func checkTokenName(name string) error {
	if name == "" || len(name) > 64 || strings.TrimSpace(name) != name || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("backend: token name %q: want 1 to 64 characters, no control characters or surrounding spaces", name)
	}
	return nil
}

// hashToken returns the stored form of a token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// createToken makes and stores a token; it returns it and the secret, to
// show once.
func (u *userDB) createToken(ctx context.Context, name, scope string, ttl time.Duration, now time.Time) (Token, string, error) {
	if err := checkTokenName(name); err != nil {
		return Token{}, "", err
	}
	if scope != ScopeRead && scope != ScopeWrite {
		return Token{}, "", fmt.Errorf("backend: token scope %q: want read or write", scope)
	}
	if ttl < 0 {
		return Token{}, "", fmt.Errorf("backend: token expiry %v: want a positive duration, or none", ttl)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	id := make([]byte, 6)
	rand.Read(id)
	t := Token{ID: hex.EncodeToString(id), Name: name, Scope: scope, Created: now.Truncate(time.Second)}
	var expires int64
	if ttl > 0 {
		t.Expires = now.Add(ttl).Truncate(time.Second)
		expires = t.Expires.Unix()
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	_, err := u.db.ExecContext(ctx, `INSERT INTO api_tokens (id, name, hash, scope, created, expires) VALUES (?, ?, ?, ?, ?, ?)`,
		t.ID, name, hashToken(token), scope, t.Created.Unix(), expires)
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") && strings.Contains(err.Error(), "name") {
			return Token{}, "", fmt.Errorf("%w: %q", ErrTokenExists, name)
		}
		return Token{}, "", fmt.Errorf("backend: create token: %w", err)
	}
	return t, token, nil
}

const tokenColumns = `id, name, scope, created, expires, last_used`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var created, expires, used int64
	if err := row.Scan(&t.ID, &t.Name, &t.Scope, &created, &expires, &used); err != nil {
		return Token{}, err
	}
	t.Created = time.Unix(created, 0)
	if expires != 0 {
		t.Expires = time.Unix(expires, 0)
	}
	if used != 0 {
		t.LastUsed = time.Unix(used, 0)
	}
	return t, nil
}

// tokens lists the tokens by name.
func (u *userDB) tokens(ctx context.Context) ([]Token, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("backend: list tokens: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("backend: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backend: list tokens: %w", err)
	}
	return out, nil
}

// revokeToken deletes the token of that name or ID and returns it.
func (u *userDB) revokeToken(ctx context.Context, nameOrID string) (Token, error) {
	t, err := scanToken(u.db.QueryRowContext(ctx, `DELETE FROM api_tokens WHERE name = ? OR id = ? RETURNING `+tokenColumns, nameOrID, nameOrID))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, fmt.Errorf("%w: %q", ErrNoToken, nameOrID)
	}
	if err != nil {
		return Token{}, fmt.Errorf("backend: revoke token: %w", err)
	}
	return t, nil
}

// tokenBy returns the token whose secret is token, unexpired at now, and
// records its use (at most once a minute); errNoUser when there is none,
// as for a wrong password.
func (u *userDB) tokenBy(ctx context.Context, token string, now time.Time) (Token, error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) != len(tokenPrefix)+43 {
		return Token{}, errNoUser
	}
	t, err := scanToken(u.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, errNoUser
	}
	if err != nil {
		return Token{}, fmt.Errorf("backend: read token: %w", err)
	}
	if t.Expired(now) {
		return Token{}, errNoUser
	}
	if now.Sub(t.LastUsed) >= time.Minute {
		if _, err := u.db.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, now.Unix(), t.ID); err != nil {
			return Token{}, fmt.Errorf("backend: record token use: %w", err)
		}
	}
	return t, nil
}

// withUsers opens the users.db of dataDir (creating the directory and
// the file when missing), runs f and closes it.
func withUsers(ctx context.Context, dataDir string, f func(*userDB) error) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("backend: data directory: %w", err)
	}
	u, err := openUsers(ctx, filepath.Join(dataDir, "users.db"), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	defer u.close()
	return f(u)
}

// CreateToken makes an API token named name with scope ScopeRead or
// ScopeWrite, valid for ttl (0: until revoked), in the users.db of
// dataDir. It returns the token and its secret: show the secret once,
// store it nowhere; users.db keeps only its hash. A name already taken
// (case-insensitively) is an error wrapping [ErrTokenExists]. It is safe
// while an [App] runs on dataDir, which accepts the token at once.
func CreateToken(ctx context.Context, dataDir, name, scope string, ttl time.Duration) (tok Token, secret string, err error) {
	err = withUsers(ctx, dataDir, func(u *userDB) error {
		tok, secret, err = u.createToken(ctx, name, scope, ttl, time.Now())
		return err
	})
	return tok, secret, err
}

// Tokens lists the API tokens in the users.db of dataDir by name,
// expired ones included.
func Tokens(ctx context.Context, dataDir string) (list []Token, err error) {
	err = withUsers(ctx, dataDir, func(u *userDB) error {
		list, err = u.tokens(ctx)
		return err
	})
	return list, err
}

// RevokeToken deletes the API token of that name or ID from the users.db
// of dataDir and returns it; an [App] running on dataDir refuses it from
// its next request on. An unknown token is an error wrapping
// [ErrNoToken].
func RevokeToken(ctx context.Context, dataDir, nameOrID string) (tok Token, err error) {
	err = withUsers(ctx, dataDir, func(u *userDB) error {
		tok, err = u.revokeToken(ctx, nameOrID)
		return err
	})
	return tok, err
}

// CreateToken makes an API token in the App's users.db, as the package's
// [CreateToken] does, on the App's clock.
func (a *App) CreateToken(ctx context.Context, name, scope string, ttl time.Duration) (Token, string, error) {
	t, secret, err := a.users.createToken(ctx, name, scope, ttl, a.now())
	if err == nil {
		a.log.LogAttrs(ctx, slog.LevelInfo, "backend: API token created", slog.String("token", t.Name), slog.String("token_id", t.ID),
			slog.String("scope", t.Scope), slog.Time("expires", t.Expires))
	}
	return t, secret, err
}

// Tokens lists the App's API tokens by name.
func (a *App) Tokens(ctx context.Context) ([]Token, error) { return a.users.tokens(ctx) }

// RevokeToken deletes the API token of that name or ID, as the package's
// [RevokeToken] does.
func (a *App) RevokeToken(ctx context.Context, nameOrID string) (Token, error) {
	t, err := a.users.revokeToken(ctx, nameOrID)
	if err == nil {
		a.log.LogAttrs(ctx, slog.LevelInfo, "backend: API token revoked", slog.String("token", t.Name), slog.String("token_id", t.ID))
	}
	return t, err
}
