#!/usr/bin/env bash
# Private Redis, Redis Cluster, MariaDB and S3 (versitygw) instances for the test suite.
#
#   deploy/test-services.sh start DIR   start them with all data and logs under DIR,
#                                       write DIR/env (source it before go test)
#   deploy/test-services.sh stop DIR    stop exactly what `start DIR` started (pid files),
#                                       wait for the processes to exit; idempotent
#
# Loopback only, non-default ports (never 6379/3306). If a port is taken by
# anything else, start fails instead of reusing it. Environment:
#   RCP_TEST_REDIS_PORT   (26379)  single Redis, AOF on, RDB off
#   RCP_TEST_MYSQL_PORT   (23306)  MariaDB, root without password
#   RCP_TEST_REDIS_CLUSTER_PORTS ("27001 27002 27003")  Redis Cluster, one primary per
#                                  port, no replicas; cluster bus = port + 10000, so
#                                  37001-37003 must be free too. AOF on, RDB off.
#   RCP_TEST_S3_PORT      (29000)  versitygw (S3, posix backend on DIR/s3, fixed test
#                                  keys, region us-east-1); no bucket is created
#   RCP_WAIT_SECONDS      (60)     how long to wait for each service to answer
#
# DIR/env exports:
#   RCP_TEST_REDIS_URL   redis://127.0.0.1:PORT/0
#   RCP_TEST_REDIS_CLUSTER_URL  127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 (the form of
#                        RCP_REDIS_URL that names a Cluster; deploy/test.sh runs the
#                        Redis packages a second time with RCP_TEST_REDIS_URL set to it)
#   RCP_TEST_MYSQL_DSN   root@tcp(127.0.0.1:PORT)/   (tests create their own databases)
#   RCP_TEST_REDIS_BIN   path of redis-server (tests may start their own instances)
#   RCP_TEST_S3_ENDPOINT http://127.0.0.1:PORT (path-style; tests create their own buckets)
#   RCP_TEST_S3_ACCESS_KEY, RCP_TEST_S3_SECRET_KEY, RCP_TEST_S3_REGION (us-east-1)
#   RCP_TEST_DIR         DIR
set -euo pipefail

RCP_LOG_PREFIX="test-services"
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	echo "usage: $0 start|stop DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
action="$1"
[ -n "$2" ] || usage

REDIS_PORT="${RCP_TEST_REDIS_PORT:-26379}"
MYSQL_PORT="${RCP_TEST_MYSQL_PORT:-23306}"
S3_PORT="${RCP_TEST_S3_PORT:-29000}"
rcp_check_port_number "$REDIS_PORT" RCP_TEST_REDIS_PORT
rcp_check_port_number "$MYSQL_PORT" RCP_TEST_MYSQL_PORT
rcp_check_port_number "$S3_PORT" RCP_TEST_S3_PORT
# Fixed test-only credentials of the private versitygw.
S3_ACCESS_KEY="rcptestaccess"
S3_SECRET_KEY="rcptestsecret-0123456789abcdef"
S3_REGION="us-east-1"
read -r -a CLUSTER_PORTS <<<"${RCP_TEST_REDIS_CLUSTER_PORTS:-27001 27002 27003}"
[ "${#CLUSTER_PORTS[@]}" -ge 3 ] ||
	rcp_die "RCP_TEST_REDIS_CLUSTER_PORTS needs at least 3 ports (one per primary), got '${RCP_TEST_REDIS_CLUSTER_PORTS:-}'"
for p in "${CLUSTER_PORTS[@]}"; do
	rcp_check_port_number "$p" RCP_TEST_REDIS_CLUSTER_PORTS
	[ "$p" -le 55535 ] || rcp_die "RCP_TEST_REDIS_CLUSTER_PORTS: $p + 10000 (its cluster bus) is not a port"
done
all_ports=("$REDIS_PORT" "$MYSQL_PORT" "$S3_PORT")
for p in "${CLUSTER_PORTS[@]}"; do
	all_ports+=("$p" "$((p + 10000))")
done
if [ "$(printf '%s\n' "${all_ports[@]}" | sort -u | wc -l)" -ne "${#all_ports[@]}" ]; then
	rcp_die "test service ports overlap (cluster bus = port + 10000): ${all_ports[*]}"
fi
for p in "${all_ports[@]}"; do
	case "$p" in 6379 | 3306) rcp_die "refusing to use default port $p for test services" ;; esac
done
CLUSTER_URL=""
for p in "${CLUSTER_PORTS[@]}"; do
	CLUSTER_URL="${CLUSTER_URL:+$CLUSTER_URL,}127.0.0.1:$p"
done

start() {
	local dir="$1"
	rcp_ensure_services_installed
	rcp_ensure_versitygw
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd -P)"

	local t0=$SECONDS
	# The Redis Cluster forms in the background while MariaDB starts: most of
	# its time is redis-cli waiting for the nodes to gossip. Nodes under
	# DIR/cluster/P, config DIR/cluster/nodes-P.conf.
	RCP_PORT_HINT="set RCP_TEST_REDIS_CLUSTER_PORTS to use other ports" \
		rcp_start_redis_cluster redis-cluster "$dir/cluster" "${CLUSTER_PORTS[@]}" &
	cluster_job=$!
	# On failure, wait for the cluster job (it is bounded by RCP_WAIT_SECONDS),
	# then stop whatever this call already started.
	trap 'rc=$?; if [ "$rc" -ne 0 ]; then wait "$cluster_job" 2>/dev/null || true; rcp_log "start failed; stopping what was started"; stop "'"$dir"'" || true; fi' EXIT
	RCP_PORT_HINT="set RCP_TEST_REDIS_PORT to use another port" \
		rcp_start_redis redis "$REDIS_PORT" "$dir/redis" "$dir/redis.pid" "$dir/redis.log"

	# Test-only durability settings: faster, and nothing to lose.
	RCP_PORT_HINT="set RCP_TEST_MYSQL_PORT to use another port" \
		rcp_start_mariadb mariadb "$MYSQL_PORT" "$dir/mysql" "$dir/mysql.sock" \
		"$dir/mysql.pid" "$dir/mysql.log" \
		--innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
		--skip-log-bin --max-connections=500

	RCP_PORT_HINT="set RCP_TEST_S3_PORT to use another port" \
		rcp_start_versitygw s3 "$S3_PORT" "$dir/s3" "$dir/s3.pid" "$dir/s3.log" \
		"$S3_ACCESS_KEY" "$S3_SECRET_KEY" "$S3_REGION"

	wait "$cluster_job" || rcp_die "redis-cluster: start failed (see above; logs in $dir/cluster)"

	local tmp="$dir/env.tmp"
	{
		echo "# written by deploy/test-services.sh; source it"
		echo "export RCP_TEST_REDIS_URL=$(rcp_shquote "redis://127.0.0.1:$REDIS_PORT/0")"
		echo "export RCP_TEST_REDIS_CLUSTER_URL=$(rcp_shquote "$CLUSTER_URL")"
		echo "export RCP_TEST_MYSQL_DSN=$(rcp_shquote "root@tcp(127.0.0.1:$MYSQL_PORT)/")"
		echo "export RCP_TEST_REDIS_BIN=$(rcp_shquote "$(command -v redis-server)")"
		echo "export RCP_TEST_S3_ENDPOINT=$(rcp_shquote "http://127.0.0.1:$S3_PORT")"
		echo "export RCP_TEST_S3_ACCESS_KEY=$(rcp_shquote "$S3_ACCESS_KEY")"
		echo "export RCP_TEST_S3_SECRET_KEY=$(rcp_shquote "$S3_SECRET_KEY")"
		echo "export RCP_TEST_S3_REGION=$(rcp_shquote "$S3_REGION")"
		echo "export RCP_TEST_DIR=$(rcp_shquote "$dir")"
	} >"$tmp"
	mv "$tmp" "$dir/env"
	trap - EXIT
	rcp_log "services ready in $((SECONDS - t0))s; environment in $dir/env"
}

stop() {
	local dir="$1"
	if [ ! -d "$dir" ]; then
		rcp_log "$dir does not exist: nothing to stop"
		return 0
	fi
	dir="$(cd "$dir" && pwd -P)"
	# All at once: each stop mostly waits for its process to go away.
	local rc=0 job jobs=()
	(rcp_stop_redis_cluster redis-cluster "$dir/cluster") &
	jobs+=("$!")
	(rcp_stop_pidfile mariadb "$dir/mysql.pid" "$dir/mysql") &
	jobs+=("$!")
	(rcp_stop_pidfile redis "$dir/redis.pid" "$dir/redis") &
	jobs+=("$!")
	(rcp_stop_pidfile s3 "$dir/s3.pid" "$dir/s3") &
	jobs+=("$!")
	for job in "${jobs[@]}"; do
		wait "$job" || rc=1
	done
	rm -f "$dir/env"
	return "$rc"
}

case "$action" in
start) start "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
