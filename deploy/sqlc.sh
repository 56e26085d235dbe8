#!/usr/bin/env bash
# sqlc pinned to one version (generated code names it, so everybody must use the same).
#   deploy/sqlc.sh install    install sqlc into $(go env GOBIN) or $(go env GOPATH)/bin if missing
#   deploy/sqlc.sh generate   sqlc generate -f sqlc/sqlc.yaml
#   deploy/sqlc.sh check      sqlc diff -f sqlc/sqlc.yaml (exit 1 when generated code is stale)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SQLC_VERSION="${SQLC_VERSION:-v1.31.1}"
CONFIG="sqlc/sqlc.yaml"

bindir="$(go env GOBIN)"
[ -n "$bindir" ] || bindir="$(go env GOPATH)/bin"
sqlc="$bindir/sqlc"

install() {
	if [ -x "$sqlc" ] && [ "$("$sqlc" version 2>/dev/null)" = "$SQLC_VERSION" ]; then
		return 0
	fi
	echo "sqlc: installing github.com/sqlc-dev/sqlc/cmd/sqlc@$SQLC_VERSION into $bindir (a few minutes on a cold cache)" >&2
	CGO_ENABLED=0 go install "github.com/sqlc-dev/sqlc/cmd/sqlc@$SQLC_VERSION"
}

need_config() {
	[ -f "$CONFIG" ] || { echo "sqlc: $CONFIG does not exist" >&2; exit 1; }
}

case "${1:-}" in
install) install ;;
generate) need_config; install; "$sqlc" generate -f "$CONFIG" ;;
check)
	need_config
	install
	if ! "$sqlc" diff -f "$CONFIG"; then
		echo "sqlc-check: generated code in sqlc/ is stale: run 'make sqlc' and commit the result" >&2
		exit 1
	fi
	;;
*) echo "usage: $0 install|generate|check" >&2; exit 2 ;;
esac
