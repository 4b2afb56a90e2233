package paneltest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PhpMyAdminDir is where Debian's phpmyadmin package installs phpMyAdmin.
const PhpMyAdminDir = "/usr/share/phpmyadmin"

// A PhpMyAdmin is Debian's phpMyAdmin served by PHP's built-in server,
// with cookie authentication against the test's database server.
type PhpMyAdmin struct {
	// URL is the server's own address, such as http://127.0.0.1:43121.
	URL *url.URL
	// User and Password sign in to phpMyAdmin: a database user who owns
	// Database and no other.
	User, Password string
	// Database holds a table "items" of three rows.
	Database string
	// Dir is the directory served: links to Debian's files, with a
	// configuration of its own.
	Dir string
}

// pmaVendorConfig replaces Debian's libraries/vendor_config.php, which
// names /etc/phpmyadmin/config.inc.php and /var/lib/phpmyadmin/tmp: the
// configuration, the temporary files and the route cache are the test's.
const pmaVendorConfig = `<?php
declare(strict_types=1);
if (! defined('PHPMYADMIN')) {
    exit;
}
$debian = require %[1]s;
return array_merge($debian, ['configFile' => %[2]s, 'tempDir' => %[3]s, 'cacheDir' => %[4]s]);
`

// pmaConfig is config.inc.php: one server, cookie authentication, a
// password required, and no call to the Internet.
const pmaConfig = `<?php
$cfg['blowfish_secret'] = %[1]s;
$cfg['Servers'][1]['auth_type'] = 'cookie';
$cfg['Servers'][1]['host'] = %[2]s;
$cfg['Servers'][1]['port'] = %[3]s;
$cfg['Servers'][1]['connect_type'] = 'tcp';
$cfg['Servers'][1]['AllowNoPassword'] = false;
$cfg['TempDir'] = %[4]s;
$cfg['VersionCheck'] = false;
$cfg['SendErrorReports'] = 'never';
$cfg['UploadDir'] = '';
$cfg['SaveDir'] = '';
`

// StartPhpMyAdmin serves phpMyAdmin for t on a free loopback port, with
// a database user and database of its own, and stops it when t ends.
// Without the packages or the database server it skips t, or fails it
// when CI=true.
func StartPhpMyAdmin(t testing.TB) *PhpMyAdmin {
	t.Helper()
	need(t, "phpMyAdmin", filepath.Join(PhpMyAdminDir, "index.php"))
	db := newDatabase(t, "pma")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sql(ctx, db.Name, "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL); "+
		"INSERT INTO items VALUES (1, 'first'), (2, 'second'), (3, 'third');"); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	pma := &PhpMyAdmin{User: db.User, Password: db.Password, Database: db.Name, Dir: t.TempDir()}
	state := t.TempDir()
	linkTree(t, PhpMyAdminDir, pma.Dir, "libraries")
	libs := filepath.Join(pma.Dir, "libraries")
	if err := os.Mkdir(libs, 0o755); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	linkTree(t, filepath.Join(PhpMyAdminDir, "libraries"), libs, "vendor_config.php", "cache")
	for _, d := range []string{"tmp", "cache"} {
		if err := os.Mkdir(filepath.Join(state, d), 0o755); err != nil {
			t.Fatalf("paneltest: %v", err)
		}
	}
	config := filepath.Join(state, "config.inc.php")
	vendor := fmt.Sprintf(pmaVendorConfig, phpString(filepath.Join(PhpMyAdminDir, "libraries", "vendor_config.php")),
		phpString(config), phpString(filepath.Join(state, "tmp")+"/"), phpString(filepath.Join(state, "cache")+"/"))
	secret := make([]byte, 16)
	rand.Read(secret)
	cfg := fmt.Sprintf(pmaConfig, phpString(hex.EncodeToString(secret)), phpString(DBHost), phpString(DBPort),
		phpString(filepath.Join(state, "tmp")+"/"))
	for path, text := range map[string]string{filepath.Join(libs, "vendor_config.php"): vendor, config: cfg} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatalf("paneltest: %v", err)
		}
	}
	pma.URL = serve(t, pma.Dir, "ROOT_PATH", state)
	return pma
}
