#!/usr/bin/env bash
# Runs one rcpbench scenario against a fresh rcpd (built without -race) on
# an existing Redis and MariaDB, as docs/benchmarks.md describes.
#
#   cmd/rcpbench/bench.sh NAME [RCP_VAR=value ...] -- [rcpbench flags ...]
#
# Environment: BENCH_REDIS_PORT (36379), BENCH_MYSQL_PORT (33306),
# BENCH_MYSQL_PID (mariadbd's pid, to sample its CPU; optional),
# BENCH_DIR (outputs, default /tmp/rcpbench), BENCH_LISTEN (127.0.0.1:18480),
# BENCH_PPROF (127.0.0.1:18460). Ports below 32768 stay clear of the
# ephemeral range that thousands of client connections use.
#
# Each run uses a key prefix and a database of its own (dropped at the end);
# it flushes nothing. Outputs: $BENCH_DIR/NAME.out (report), NAME.rcpd.log.
set -euo pipefail
name=$1
shift
envs=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	envs+=("$1")
	shift
done
[ $# -gt 0 ] && shift

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${BENCH_DIR:-${TMPDIR:-/tmp}/rcpbench}
redis_port=${BENCH_REDIS_PORT:-36379}
# BENCH_REDIS_URL (optional) is the Redis rcpd and the probe use, for example
# unix:///path/redis.sock?db=0 for a Redis on this host's Unix socket.
redis_url=${BENCH_REDIS_URL:-redis://127.0.0.1:$redis_port/0}
mysql_port=${BENCH_MYSQL_PORT:-33306}
listen=${BENCH_LISTEN:-127.0.0.1:18480}
pprof=${BENCH_PPROF:-127.0.0.1:18460}
mkdir -p "$dir"
(cd "$root" && go build -o "$dir/rcpd" ./cmd/rcpd && go build -o "$dir/rcpbench" ./cmd/rcpbench)

ulimit -n "$(ulimit -Hn)"
run=$(date +%s)
db="bench_$run"
mariadb --no-defaults -h127.0.0.1 -P"$mysql_port" -uroot -e "CREATE DATABASE $db"
export RCP_JWT_SECRET=${RCP_JWT_SECRET:-bench-secret-0123456789abcdef0123456789}
env RCP_LISTEN="$listen" RCP_REDIS_URL="$redis_url" RCP_KEY_PREFIX="bench$run" \
	RCP_MYSQL_DSN="root@tcp(127.0.0.1:$mysql_port)/$db" RCP_LOG_LEVEL=warn RCP_PPROF="$pprof" \
	"${envs[@]}" "$dir/rcpd" serve >"$dir/$name.rcpd.log" 2>&1 &
rcpd=$!
echo "$rcpd" >"$dir/rcpd.pid"
cleanup() {
	kill "$rcpd" 2>/dev/null && wait "$rcpd" || true
	mariadb --no-defaults -h127.0.0.1 -P"$mysql_port" -uroot -e "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
for _ in $(seq 600); do
	curl -sf "http://$listen/readyz" >/dev/null && break
	sleep 0.1
done
curl -sf "http://$listen/readyz" >/dev/null || {
	cat "$dir/$name.rcpd.log"
	exit 1
}
pids="rcpd=$rcpd"
[ -n "${BENCH_MYSQL_PID:-}" ] && pids="$pids,mariadb=$BENCH_MYSQL_PID"
echo "loadavg before: $(cat /proc/loadavg)" >&2
"$dir/rcpbench" --url "ws://$listen/ws" --redis-url "$redis_url" \
	--pids "$pids" --run-id "r$run" "$@" | tee "$dir/$name.out"
echo "loadavg after: $(cat /proc/loadavg)" >&2
