package paneltest

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WordPressDir is where Debian's wordpress package installs WordPress.
const WordPressDir = "/usr/share/wordpress"

// A WordPress is Debian's WordPress served by PHP's built-in server.
type WordPress struct {
	// URL is the server's own address, such as http://127.0.0.1:43121:
	// the proxy's upstream, and the way around the proxy.
	URL *url.URL
	// Site is the site address that [WordPress.Install] gave it: the
	// proxy's.
	Site string
	// User and Password are the administrator's, once installed.
	User, Password string
	// Dir is the directory served: links to Debian's files, with
	// wp-config.php and wp-content of its own.
	Dir   string
	state string
	db    database
}

// StartWordPress serves WordPress for t on a free loopback port, on a
// database of its own, and stops it when t ends. It is not installed
// yet: start the proxy in front of URL, then call [WordPress.Install]
// with the proxy's address. Without the packages or the database server
// it skips t, or fails it when CI=true.
func StartWordPress(t testing.TB) *WordPress {
	t.Helper()
	need(t, "WordPress", filepath.Join(WordPressDir, "wp-settings.php"))
	db := newDatabase(t, "wp")
	wp := &WordPress{Dir: t.TempDir(), state: t.TempDir(), db: db, User: "admin", Password: rand.Text()}
	linkTree(t, WordPressDir, wp.Dir, "wp-config.php", "wp-content")
	content := filepath.Join(wp.Dir, "wp-content")
	if err := os.MkdirAll(filepath.Join(content, "uploads"), 0o755); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	linkTree(t, filepath.Join(WordPressDir, "wp-content"), content)
	wp.URL = serve(t, wp.Dir, "ABSPATH", wp.state)
	return wp
}

// wpConfig is wp-config.php: the database, the site address, fresh keys,
// and no call to the Internet (updates, cron's loopback, feeds), which
// the test machines cannot reach.
const wpConfig = `<?php
define('DB_NAME', %[1]s);
define('DB_USER', %[2]s);
define('DB_PASSWORD', %[3]s);
define('DB_HOST', %[4]s);
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_HOME', %[5]s);
define('WP_SITEURL', %[5]s);
define('WP_CONTENT_DIR', %[6]s);
%[7]s
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
$table_prefix = 'wp_';
require_once ABSPATH . 'wp-settings.php';
`

// installPHP installs WordPress with its administrator, pretty
// permalinks (so that the REST API is at /wp-json/ too) and no avatars
// (Gravatar is on the Internet); no mail is sent.
const installPHP = `<?php
define('WP_INSTALLING', true);
define('ABSPATH', %[1]s);
require ABSPATH . 'wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
add_filter('pre_wp_mail', '__return_false');
$r = wp_install('Logout test', %[2]s, 'admin@example.com', false, '', %[3]s);
if (is_wp_error($r) || empty($r['user_id'])) {
    fwrite(STDERR, print_r($r, true));
    exit(1);
}
update_option('permalink_structure', '/%%postname%%/');
delete_option('rewrite_rules');
update_option('show_avatars', 0);
echo "installed\n";
`

// Install writes WordPress's configuration with site as its site address
// (WP_HOME and WP_SITEURL: the proxy's address, such as
// http://127.0.0.1:8080, since WordPress builds its links and redirects
// from it) and runs its installer.
func (wp *WordPress) Install(t testing.TB, site string) {
	t.Helper()
	site = strings.TrimRight(site, "/")
	var keys strings.Builder
	for _, k := range []string{"AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"} {
		fmt.Fprintf(&keys, "define('%s', %s);\n", k, phpString(rand.Text()+rand.Text()))
	}
	config := fmt.Sprintf(wpConfig, phpString(wp.db.Name), phpString(wp.db.User), phpString(wp.db.Password),
		phpString(DBHost+":"+DBPort), phpString(site), phpString(filepath.Join(wp.Dir, "wp-content")), keys.String())
	if err := os.WriteFile(filepath.Join(wp.Dir, "wp-config.php"), []byte(config), 0o644); err != nil {
		t.Fatalf("paneltest: %v", err)
	}
	out := runPHP(t, wp.state, "install.php", fmt.Sprintf(installPHP, phpString(wp.Dir+"/"), phpString(wp.User), phpString(wp.Password)))
	if !strings.Contains(string(out), "installed") {
		t.Fatalf("paneltest: WordPress's installer: %s", out)
	}
	wp.Site = site
}
