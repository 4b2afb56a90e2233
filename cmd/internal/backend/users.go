package backend

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// A user is a backend user as a request sees it.
type user struct {
	ID    int64
	Name  string
	Roles []string
	Perms []string
}

// Can reports whether u holds the permission.
func (u *user) Can(perm string) bool { return slices.Contains(u.Perms, perm) }

// SessionUser is the user as the Manager knows it.
func (u *user) SessionUser() string { return strconv.FormatInt(u.ID, 10) }

// Initials returns one or two capital letters for the avatar.
func (u *user) Initials() string { return initials(u.Name) }

func initials(name string) string {
	parts := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var b strings.Builder
	for _, p := range parts {
		r, _ := utf8.DecodeRuneInString(p)
		b.WriteRune(unicode.ToUpper(r))
		if b.Len() >= 2 || len(parts) == 1 {
			break
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

// userDB is the users.db file: users, drafts and the App's secrets.
type userDB struct {
	db   *sql.DB
	cost int
}

const usersSchema = `
CREATE TABLE IF NOT EXISTS users (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
	password_hash TEXT NOT NULL,
	roles         TEXT NOT NULL DEFAULT '',  -- comma-separated
	permissions   TEXT NOT NULL DEFAULT '',  -- comma-separated
	created       INTEGER NOT NULL           -- Unix seconds
);
CREATE TABLE IF NOT EXISTS drafts (
	user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	data    TEXT NOT NULL,                   -- JSON object of form fields
	saved   INTEGER NOT NULL                 -- Unix seconds
);
CREATE TABLE IF NOT EXISTS secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);`

// openUsers opens (creating if needed) the user database at path.
func openUsers(ctx context.Context, path string, cost int) (*userDB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backend: users database: %w", err)
	}
	// SQLite reports a file it may not open as "unable to open database
	// file (14)": ask the file system first, which names the problem.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("backend: users database: %w", err)
	} else {
		f.Close()
	}
	dsn := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs)) +
		"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("backend: users database: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; the table is small
	if _, err := db.ExecContext(ctx, usersSchema+tokensSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("backend: users database %s: %w", path, err)
	}
	return &userDB{db: db, cost: cost}, nil
}

func (u *userDB) close() error { return u.db.Close() }

// secret returns the named 32-byte secret, creating it at first use. Apps
// sharing the data directory share it.
func (u *userDB) secret(ctx context.Context, name string) ([]byte, error) {
	b := make([]byte, 32)
	rand.Read(b)
	if _, err := u.db.ExecContext(ctx, `INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)`, name, b); err != nil {
		return nil, fmt.Errorf("backend: secret %s: %w", name, err)
	}
	if err := u.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&b); err != nil {
		return nil, fmt.Errorf("backend: secret %s: %w", name, err)
	}
	return b, nil
}

// bootstrap creates the administrator and, unless cfg.NoDemoUser, the demo
// editor when there are no users, and returns them with their passwords.
func (u *userDB) bootstrap(ctx context.Context, cfg Config) ([]Credential, error) {
	var n int
	if err := u.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return nil, fmt.Errorf("backend: count users: %w", err)
	}
	if n > 0 {
		return nil, nil
	}
	admin := Credential{User: cmp(cfg.AdminUser, "admin"), Password: cmp(cfg.AdminPassword, randomPassword()), Role: RoleAdmin}
	editor := Credential{User: "editor", Password: cmp(cfg.EditorPassword, randomPassword()), Role: RoleEditor}
	if strings.EqualFold(admin.User, editor.User) {
		editor.User = "editor2"
	}
	create := []Credential{admin, editor}
	if cfg.NoDemoUser {
		create = create[:1]
	}
	var out []Credential
	for _, c := range create {
		if err := checkCredential(c); err != nil {
			return nil, err
		}
		perms := ""
		if c.Role == RoleAdmin {
			perms = PermSettings + "," + PermSessions
		}
		ok, err := u.create(ctx, c.User, c.Password, c.Role, perms, cfg.Clock.Now())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkCredential(c Credential) error {
	switch {
	case strings.TrimSpace(c.User) != c.User || c.User == "" || len(c.User) > 64:
		return fmt.Errorf("backend: user name %q must be 1 to 64 characters without surrounding spaces", c.User)
	case len(c.Password) < 8 || len(c.Password) > 72:
		return fmt.Errorf("backend: the password of %s must be 8 to 72 bytes long", c.User)
	}
	return nil
}

// create adds a user unless one of that name exists; it reports whether it did.
func (u *userDB) create(ctx context.Context, name, password, roles, perms string, at time.Time) (bool, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return false, fmt.Errorf("backend: hash password of %s: %w", name, err)
	}
	res, err := u.db.ExecContext(ctx,
		`INSERT INTO users (name, password_hash, roles, permissions, created) VALUES (?, ?, ?, ?, ?)
		 ON CONFLICT (name) DO NOTHING`, name, string(hash), roles, perms, at.Unix())
	if err != nil {
		return false, fmt.Errorf("backend: create user %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("backend: create user %s: %w", name, err)
	}
	return n == 1, nil
}

// randomPassword returns 16 random letters and digits (about 93 bits),
// leaving out look-alikes such as l, 1, O and 0.
func randomPassword() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	const limit = 256 - 256%len(alphabet) // rejection sampling: no bias
	out := make([]byte, 0, 16)
	b := make([]byte, 32)
	for len(out) < cap(out) {
		rand.Read(b)
		for _, c := range b {
			if int(c) < limit && len(out) < cap(out) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// errNoUser means the user does not exist (any more).
var errNoUser = errors.New("backend: no such user")

const userColumns = `id, name, roles, permissions`

func scanUser(row interface{ Scan(...any) error }) (*user, error) {
	var u user
	var roles, perms string
	if err := row.Scan(&u.ID, &u.Name, &roles, &perms); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNoUser
		}
		return nil, err
	}
	u.Roles, u.Perms = splitList(roles), splitList(perms)
	return &u, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// byID returns the user of a session's user ID. Only the canonical
// decimal form that [user.SessionUser] writes names a user: "01", "+1"
// and a panel user's "panel:1" name none.
func (u *userDB) byID(ctx context.Context, id string) (*user, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id {
		return nil, errNoUser
	}
	usr, err := scanUser(u.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, n))
	if err != nil && !errors.Is(err, errNoUser) {
		return nil, fmt.Errorf("backend: user %s: %w", id, err)
	}
	return usr, err
}

// authenticate returns the user whose name and password match, or
// errNoUser. It compares one bcrypt hash whether or not the user exists,
// against dummy when it does not, so that the time taken does not tell.
func (u *userDB) authenticate(ctx context.Context, name, password string, dummy []byte) (*user, error) {
	var hash, roles, perms string
	var usr user
	err := u.db.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE name = ?`, name).
		Scan(&usr.ID, &usr.Name, &roles, &perms, &hash)
	found := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("backend: authenticate: %w", err)
	}
	if len(password) > 72 { // bcrypt's limit: no stored password is longer
		found, password = false, password[:72]
	}
	if !found {
		hash = string(dummy)
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil || !found {
		return nil, errNoUser
	}
	usr.Roles, usr.Perms = splitList(roles), splitList(perms)
	return &usr, nil
}

// names returns every user's name by session user ID.
func (u *userDB) names(ctx context.Context) (map[string]string, error) {
	rows, err := u.db.QueryContext(ctx, `SELECT id, name FROM users`)
	if err != nil {
		return nil, fmt.Errorf("backend: list users: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("backend: list users: %w", err)
		}
		out[strconv.FormatInt(id, 10)] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backend: list users: %w", err)
	}
	return out, nil
}

// draft returns the user's saved draft and when it was saved.
func (u *userDB) draft(ctx context.Context, userID int64) (url.Values, time.Time, error) {
	var data string
	var saved int64
	err := u.db.QueryRowContext(ctx, `SELECT data, saved FROM drafts WHERE user_id = ?`, userID).Scan(&data, &saved)
	if errors.Is(err, sql.ErrNoRows) {
		return url.Values{}, time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("backend: read draft: %w", err)
	}
	m := map[string]string{}
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		return nil, time.Time{}, fmt.Errorf("backend: decode draft: %w", err)
	}
	v := url.Values{}
	for k, s := range m {
		v.Set(k, s)
	}
	return v, time.Unix(saved, 0), nil
}

// saveDraft stores the user's draft.
func (u *userDB) saveDraft(ctx context.Context, userID int64, fields map[string]string, at time.Time) error {
	data, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("backend: encode draft: %w", err)
	}
	_, err = u.db.ExecContext(ctx, `INSERT INTO drafts (user_id, data, saved) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET data = excluded.data, saved = excluded.saved`, userID, string(data), at.Unix())
	if err != nil {
		return fmt.Errorf("backend: save draft: %w", err)
	}
	return nil
}

// SetAdminPassword sets the password of the user name in the user
// database of dataDir (its users.db, created with the directory if
// missing), or, when there is no user of that name, creates it as an
// administrator: role admin with every permission. An empty password
// means a new random one, as the first start makes. It returns the user
// and the password, to show once (with the role admin if it created the
// user, else no role), and reports whether it created the user. It is safe while an [App] runs on dataDir; the user's sessions go
// on until they end or are signed out.
func SetAdminPassword(ctx context.Context, dataDir, name, password string) (_ Credential, created bool, err error) {
	c := Credential{User: name, Password: cmp(password, randomPassword()), Role: RoleAdmin}
	if err := checkCredential(c); err != nil {
		return c, false, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return c, false, fmt.Errorf("backend: data directory: %w", err)
	}
	u, err := openUsers(ctx, filepath.Join(dataDir, "users.db"), bcrypt.DefaultCost)
	if err != nil {
		return c, false, err
	}
	defer u.close()
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), u.cost)
	if err != nil {
		return c, false, fmt.Errorf("backend: hash password of %s: %w", name, err)
	}
	res, err := u.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, string(hash), name)
	if err != nil {
		return c, false, fmt.Errorf("backend: set password of %s: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return c, false, fmt.Errorf("backend: set password of %s: %w", name, err)
	} else if n == 1 {
		c.Role = "" // the user keeps the roles it has
		return c, false, nil
	}
	created, err = u.create(ctx, name, c.Password, RoleAdmin, PermSettings+","+PermSessions, time.Now())
	return c, created, err
}
