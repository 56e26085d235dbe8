#!/usr/bin/env bash
# `make test`: the whole test suite against private, throw-away services.
#
#  1. deploy/test-deps.sh          (apt packages if missing, npm ci for tests/node)
#  2. start Redis, a 3-primary Redis Cluster and MariaDB under a new temp dir
#     (deploy/test-services.sh), stopped again on exit whatever happens
#  3. fmt-check, sqlc-check (if sqlc/sqlc.yaml exists), go vet ./...
#  4. pass 1: go test -race -count=1 -timeout 30m ./...   (against the single Redis)
#  5. pass 2: the same go test of the packages whose tests use Redis (they name
#     RCP_TEST_REDIS_URL, or import a test helper that does; at least ./broker/...
#     and ./cmd/rcpd/...) with RCP_TEST_REDIS_URL set to the Redis Cluster
#     (RCP_TEST_REDIS_CLUSTER_URL). Each pass starts with a "==== pass N" line
#     and ends with go test's own ok/FAIL lines, printed as is.
#
# Exit status: the first failing pass's go test status, else 1 if a check in
# step 3 failed, else 0. Step 3 failures are reported but both passes still run.
# On success go test's closing lines are the last lines printed; on any failure
# a one-line summary of what failed follows them.
#
# Environment: RCP_TEST_REDIS_PORT (26379), RCP_TEST_MYSQL_PORT (23306),
# RCP_TEST_REDIS_CLUSTER_PORTS ("27001 27002 27003"; buses at +10000),
# RCP_TEST_KEEP_DIR=1 keeps the temp dir (service logs) after the run,
# GO_TEST_FLAGS adds flags to go test in both passes (e.g. GO_TEST_FLAGS='-run TestSend -v').
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

# redis_packages: the import paths of ./broker/..., ./cmd/rcpd/... and of every
# package whose tests name RCP_TEST_REDIS_URL, directly or through a test helper
# package (a non-test file that names it, e.g. broker/brokertest) they import.
redis_packages() {
	local f dir patterns=(./broker/... ./cmd/rcpd/...) helpers=()
	while IFS= read -r f; do
		dir="./$(dirname "${f#./}")"
		case "$f" in
		*_test.go) patterns+=("$dir") ;;
		*) helpers+=("$dir") ;;
		esac
	done < <(grep -rl --include='*.go' --exclude-dir=node_modules --exclude-dir=.git \
		--exclude-dir=testdata -e RCP_TEST_REDIS_URL . 2>/dev/null || true)
	{
		go list -e "${patterns[@]}"
		if [ "${#helpers[@]}" -gt 0 ]; then
			local helper_paths
			helper_paths=" $(go list -e "${helpers[@]}" | tr '\n' ' ')"
			go list -e -f '{{.ImportPath}}{{range .TestImports}} {{.}}{{end}}{{range .XTestImports}} {{.}}{{end}}' ./... |
				while read -r pkg imports; do
					for f in $imports; do
						case "$helper_paths" in *" $f "*)
							echo "$pkg"
							break
							;;
						esac
					done
				done
		fi
	} | sort -u
}

read -r -a extra_flags <<<"${GO_TEST_FLAGS:-}"
set +e
echo "==== pass 1 of 2: go test ./... against the single Redis ($RCP_TEST_REDIS_URL)"
go test -race -count=1 -timeout 30m "${extra_flags[@]}" ./...
status1=$?

status2=1
if [ -z "${RCP_TEST_REDIS_CLUSTER_URL:-}" ]; then
	rcp_log "RCP_TEST_REDIS_CLUSTER_URL is not set by deploy/test-services.sh: cannot run the Redis Cluster pass"
elif ! pkgs="$(redis_packages)" || [ -z "$pkgs" ]; then
	rcp_log "could not list the packages whose tests use Redis"
else
	mapfile -t cluster_pkgs <<<"$pkgs"
	echo "==== pass 2 of 2: the Redis packages against the Redis Cluster (RCP_TEST_REDIS_URL=$RCP_TEST_REDIS_CLUSTER_URL): ${cluster_pkgs[*]#github.com/rcp/rcp/}"
	RCP_TEST_REDIS_URL="$RCP_TEST_REDIS_CLUSTER_URL" \
		go test -race -count=1 -timeout 30m "${extra_flags[@]}" "${cluster_pkgs[@]}"
	status2=$?
fi
set -e

[ "$status1" -eq 0 ] || failed+=("go test (pass 1, single Redis)")
[ "$status2" -eq 0 ] || failed+=("go test (pass 2, Redis Cluster)")
status=0
for s in "$status1" "$status2"; do
	if [ "$status" -eq 0 ] && [ "$s" -ne 0 ]; then
		status=$s
	fi
done
if [ "${#failed[@]}" -gt 0 ]; then
	summary="$(printf '%s; ' "${failed[@]}")"
	rcp_log "FAILED: ${summary%; } (see above)"
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
