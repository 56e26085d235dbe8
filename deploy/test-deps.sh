#!/usr/bin/env bash
# Installs what the test suite needs, only what is missing:
#   - redis-server, mariadb-server, mariadb-client (apt)
#   - gcc and libc6-dev (apt): `go test -race` needs cgo and a C compiler
#   - tests/node/node_modules from tests/node/package-lock.json (npm ci)
#   - versitygw v1.8.0 (the tests' S3 server) into $(go env GOPATH)/bin (go install)
# Idempotent and quick when everything is there.
set -euo pipefail

RCP_LOG_PREFIX="test-deps"
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
for c in redis-server redis-cli mariadbd mariadb-install-db mariadb mariadb-admin; do
	if ! command -v "$c" >/dev/null 2>&1; then
		missing+=(redis-server mariadb-server mariadb-client)
		break
	fi
done
if ! command -v "${CC:-gcc}" >/dev/null 2>&1; then
	missing+=(gcc)
fi
if [ ! -e /usr/include/stdlib.h ]; then
	missing+=(libc6-dev)
fi
if [ "${#missing[@]}" -gt 0 ]; then
	rcp_apt_install "${missing[@]}"
fi
rcp_ensure_services_installed
rcp_ensure_versitygw

# Node packages for the end-to-end tests (stompjs, ws). `npm ci` wipes and
# reinstalls node_modules, so skip it when node_modules was installed from this
# very package-lock.json (also keeps a concurrent test run's node_modules intact).
node_dir="$RCP_ROOT/tests/node"
if [ -f "$node_dir/package-lock.json" ]; then
	command -v npm >/dev/null 2>&1 || rcp_die "npm is missing (node 20 with npm is expected on this machine)"
	stamp="$node_dir/node_modules/.rcp-package-lock.sha256"
	want="$(sha256sum "$node_dir/package-lock.json" | cut -d' ' -f1)"
	have=''
	if [ -f "$stamp" ]; then
		read -r have <"$stamp" || true
	fi
	if [ "$want" != "$have" ] || [ ! -f "$node_dir/node_modules/.package-lock.json" ]; then
		rcp_log "npm ci --prefix tests/node"
		npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error >&2 ||
			rcp_die "npm ci in tests/node failed"
		printf '%s\n' "$want" >"$stamp"
	fi
fi
