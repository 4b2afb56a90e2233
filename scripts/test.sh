#!/usr/bin/env bash
# Runs every test of the project, after installing what the tests need:
# Debian's Chromium (browser tests), gcc (to build Ory Hydra, the OpenID
# provider of the single sign-on tests), Debian's python3-django (the proxy's
# end-to-end tests against a real Django admin), Debian's wordpress and
# phpmyadmin with php-cli and php-mysql (the proxy's tests against the real
# panels, on the local MariaDB) and the npm packages axe-core and
# @hotwired/turbo (a page that swaps its body). Extra arguments go to
# `go test` (see the end of this file).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
/usr/bin/python3 -c 'import django' >/dev/null 2>&1 || missing+=(python3-django)
# A C compiler: cmd/internal/hydratest builds Ory Hydra (the OpenID provider of
# the single sign-on tests) with its in-memory SQLite, which needs cgo.
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's ${missing[*]} for the browser and proxy tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: ${missing[*]} missing and cannot be installed here; the tests that need them will skip"
  fi
fi

# The real panels, without Recommends: the tests serve them with PHP's
# built-in server (internal/paneltest), so the web server that
# Debian's wordpress pulls in (apache2) is installed but never started,
# and phpMyAdmin's package neither configures a database nor a web server.
panels=()
for p in php-cli php-mysql wordpress wordpress-theme-twentytwentythree phpmyadmin; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || panels+=("$p")
done
command -v mariadb >/dev/null 2>&1 || command -v mysql >/dev/null 2>&1 || panels+=(mariadb-client)
if [ ${#panels[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing Debian's ${panels[*]} for the proxy's tests against the real panels"
    norc=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && norc=1
    fi
    printf '%s\n' 'phpmyadmin phpmyadmin/dbconfig-install boolean false' \
      'phpmyadmin phpmyadmin/reconfigure-webserver multiselect' | debconf-set-selections
    [ ${#missing[@]} -gt 0 ] || apt-get update -qq
    log=$(mktemp) status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${panels[@]}" >"$log" 2>&1 || status=$?
    [ -z "$norc" ] || rm -f /usr/sbin/policy-rc.d
    [ $status = 0 ] || cat "$log" >&2
    rm -f "$log"
    [ $status = 0 ] || exit $status
  else
    echo "test.sh: ${panels[*]} missing and cannot be installed here; the tests against the real panels will skip"
  fi
fi

axe=.cache/npm/node_modules/axe-core/axe.min.js
turbo=.cache/npm/node_modules/@hotwired/turbo/dist/turbo.es2017-umd.js
if { [ ! -f "$axe" ] || [ ! -f "$turbo" ]; } && command -v npm >/dev/null 2>&1; then
  echo "test.sh: installing axe-core (accessibility checks) and @hotwired/turbo (a panel that swaps its body)"
  npm install --silent --no-audit --no-fund --prefix .cache/npm axe-core@4.14.1 @hotwired/turbo@8.0.23 >/dev/null
fi
if [ -f "$axe" ]; then
  export LOGOUT_AXE_JS="$PWD/$axe"
fi
if [ -f "$turbo" ]; then
  export LOGOUT_TURBO_JS="$PWD/$turbo"
fi

# The repository is a workspace of several modules (go.work lists them:
# the library, each store, metrics, oidc and cmd, the commands with the
# reference backend, the examples and the test harnesses), and
# `go test ./...` stays inside one module, so with no arguments every
# module's packages are named. Arguments are passed to `go test` as they
# are (for example: scripts/test.sh -run Widget ./cmd/internal/browsertest/...).
if [ $# -eq 0 ]; then
  mapfile -t modules < <(go list -m -f '{{.Dir}}/...')
  go test -race -timeout 30m "${modules[@]}"
else
  go test -race -timeout 30m "$@"
fi
