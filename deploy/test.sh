#!/usr/bin/env bash
# `make test`: the whole test suite against private, throw-away services.
#
#  1. deploy/test-deps.sh          (apt packages if missing, npm ci for tests/node)
#  2. start Redis and MariaDB under a new temp dir (deploy/test-services.sh),
#     stopped again on exit whatever happens
#  3. fmt-check, sqlc-check (if sqlc/sqlc.yaml exists), go vet ./...
#  4. go test -race -count=1 -timeout 30m ./...   (output printed as is, last)
#
# Exit status: go test's status if it failed, else 1 if a check in step 3 failed,
# else 0. Step 3 failures are reported but go test still runs, so its output
# comes last (followed by a one-line summary when only step 3 failed).
#
# Environment: RCP_TEST_REDIS_PORT (26379), RCP_TEST_MYSQL_PORT (23306),
# RCP_TEST_KEEP_DIR=1 keeps the temp dir (service logs) after the run,
# GO_TEST_FLAGS adds flags to go test (e.g. GO_TEST_FLAGS='-run TestSend -v').
set -euo pipefail

RCP_LOG_PREFIX="test"
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RCP_ROOT"

deploy/test-deps.sh

TEST_DIR="$(mktemp -d "${TMPDIR:-/tmp}/rcp-test.XXXXXX")"

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
	local status=$? out
	trap - EXIT INT TERM HUP
	# Quiet on success, so go test's closing lines stay the last lines printed.
	if ! out="$(deploy/test-services.sh stop "$TEST_DIR" 2>&1)"; then
		printf '%s\n' "$out" >&2
		rcp_log "stopping test services failed; logs kept in $TEST_DIR"
		[ "$status" -ne 0 ] || status=1
	elif [ "${RCP_TEST_KEEP_DIR:-}" = 1 ]; then
		rcp_log "kept $TEST_DIR"
	else
		rm -rf "$TEST_DIR"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

t0=$SECONDS
deploy/test-services.sh start "$TEST_DIR"
rcp_log "test services started in $((SECONDS - t0))s"

# shellcheck source=/dev/null
. "$TEST_DIR/env"
export RCP_TEST_NODE_DIR="$RCP_ROOT/tests/node"

failed=()
if ! deploy/fmt-check.sh; then
	failed+=(fmt-check)
fi
if [ -f sqlc/sqlc.yaml ]; then
	if ! deploy/sqlc.sh check; then
		failed+=(sqlc-check)
	fi
fi
if ! go vet ./...; then
	rcp_log "go vet failed"
	failed+=("go vet")
fi

read -r -a extra_flags <<<"${GO_TEST_FLAGS:-}"
set +e
go test -race -count=1 -timeout 30m "${extra_flags[@]}" ./...
status=$?
set -e

if [ "$status" -eq 0 ] && [ "${#failed[@]}" -gt 0 ]; then
	rcp_log "go test passed, but these checks failed (see above): ${failed[*]}"
	status=1
fi
exit "$status"
