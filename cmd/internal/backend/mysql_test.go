package backend

import (
	"strings"
	"testing"
	"time"

	"github.com/gologout/logout"
	"github.com/gologout/logout/mysqlstore/mysqltest"
)

func TestMySQLConfig(t *testing.T) {
	for _, tt := range []struct {
		name, url                    string
		user, pass, addr, db, prefix string
		interpolate                  bool
		timeout                      time.Duration
		err                          string
	}{
		{name: "everything", url: "mysql://app:s3cret@db.example:3307/panel?prefix=wp_",
			user: "app", pass: "s3cret", addr: "db.example:3307", db: "panel", prefix: "wp_", interpolate: true, timeout: 2 * time.Second},
		{name: "default port, no password", url: "mysql://root@127.0.0.1/test",
			user: "root", addr: "127.0.0.1:3306", db: "test", interpolate: true, timeout: 2 * time.Second},
		{name: "escaped password", url: "mysql://app:p%40ss%2Fw%3Ard@[::1]/panel",
			user: "app", pass: "p@ss/w:rd", addr: "[::1]:3306", db: "panel", interpolate: true, timeout: 2 * time.Second},
		{name: "driver parameters", url: "mysql://app@db/panel?timeout=5s&interpolateParams=false&prefix=october_",
			user: "app", addr: "db:3306", db: "panel", prefix: "october_", timeout: 5 * time.Second},
		{name: "no database", url: "mysql://app@db:3306/", err: "want mysql://"},
		{name: "no host", url: "mysql:///panel", err: "want mysql://"},
		{name: "unknown parameter value", url: "mysql://app:s3cret@db/panel?timeout=soon", err: "parameters"},
		{name: "bad URL", url: "mysql://app:s3cret@db:port/panel", err: "does not parse"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, prefix, err := mysqlConfig(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("mysqlConfig(%q) = %v; want an error about %q that hides the password", tt.url, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []any{cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName, prefix, cfg.InterpolateParams, cfg.Timeout}
			want := []any{tt.user, tt.pass, "tcp", tt.addr, tt.db, tt.prefix, tt.interpolate, tt.timeout}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("mysqlConfig(%q): got %v, want %v", tt.url, got, want)
				}
			}
		})
	}
}

// TestOpenMySQL opens the store and the sign-in counts of a mysql:// URL
// on the test server, with a table prefix.
func TestOpenMySQL(t *testing.T) {
	cfg := mysqltest.Config(t)
	db := mysqltest.Open(t, cfg)
	prefix := mysqltest.Prefix(t, db)
	u := "mysql://" + cfg.User
	if cfg.Passwd != "" {
		u += ":" + cfg.Passwd
	}
	u += "@" + cfg.Addr + "/" + cfg.DBName + "?prefix=" + prefix
	for _, start := range []string{"first start", "second start, on the tables made"} {
		o, err := openStore(t.Context(), u, t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", start, err)
		}
		defer o.close()
		if n, err := o.store.CountSessions(t.Context(), logout.ListOptions{}); err != nil || n != 0 {
			t.Fatalf("%s: CountSessions = %d, %v; want 0", start, n, err)
		}
		if _, err := o.counts.reserve(t.Context(), time.Now(), testCounters([]string{"a"})); err != nil {
			t.Fatalf("%s: reserve: %v", start, err)
		}
	}
	var tables int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND BINARY LEFT(TABLE_NAME, CHAR_LENGTH(?)) = ?`, prefix, prefix).Scan(&tables); err != nil || tables != 9 {
		t.Fatalf("%d tables with the prefix, %v; want the store's 8 and the throttle's", tables, err)
	}
}
