# shellcheck shell=bash
# Shared helpers for the deploy/*.sh scripts. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Everything here starts *private* service instances: loopback only, non-default
# ports, data under a directory the caller names. Nothing here touches a Redis on
# 6379 or a MariaDB on 3306, and nothing uses systemd.

# mariadbd and mariadb-install-db live in /usr/sbin on Debian; a non-login or
# non-root PATH may not have it.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin" ;; esac
case ":$PATH:" in *:/sbin:*) ;; *) PATH="$PATH:/sbin" ;; esac
export PATH

# shellcheck disable=SC2034 # used by the scripts that source this file
RCP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Seconds to wait for a service to answer after it was started.
RCP_WAIT_SECONDS="${RCP_WAIT_SECONDS:-60}"

rcp_log() { printf '%s: %s\n' "${RCP_LOG_PREFIX:-rcp}" "$*" >&2; }
rcp_die() { printf '%s: ERROR: %s\n' "${RCP_LOG_PREFIX:-rcp}" "$*" >&2; exit 1; }

# rcp_shquote VALUE: VALUE as one single-quoted shell word.
rcp_shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# rcp_tail FILE: the end of a log file, indented, on stderr (for failure messages).
rcp_tail() {
	if [ -s "$1" ]; then
		printf -- '----- last lines of %s -----\n' "$1" >&2
		tail -n 30 "$1" | sed 's/^/  | /' >&2
		printf -- '-----\n' >&2
	else
		printf -- '(%s is empty or missing)\n' "$1" >&2
	fi
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

RCP_APT_UPDATED="${RCP_APT_UPDATED:-}"

rcp_sudo() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		rcp_die "need root (or sudo) to run: $*"
	fi
}

# rcp_apt_install PKG...: apt-get update (once per process) and install.
rcp_apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		rcp_die "packages missing ($*) and apt-get is not available: install them by hand"
	rcp_log "installing packages: $*"
	if [ -z "$RCP_APT_UPDATED" ]; then
		rcp_sudo env DEBIAN_FRONTEND=noninteractive \
			apt-get -o DPkg::Lock::Timeout=300 update -qq ||
			rcp_die "apt-get update failed"
		RCP_APT_UPDATED=1
	fi
	rcp_sudo env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 install -y -qq "$@" ||
		rcp_die "apt-get install $* failed"
}

# rcp_ensure_services_installed: redis-server, mariadb-server, mariadb-client.
rcp_ensure_services_installed() {
	local c missing=0
	for c in redis-server redis-cli mariadbd mariadb-install-db mariadb mariadb-admin; do
		command -v "$c" >/dev/null 2>&1 || missing=1
	done
	if [ "$missing" -eq 1 ]; then
		rcp_apt_install redis-server mariadb-server mariadb-client
	fi
	for c in redis-server redis-cli mariadbd mariadb-install-db mariadb mariadb-admin; do
		command -v "$c" >/dev/null 2>&1 || rcp_die "$c still missing after installing packages"
	done
}

# ---------------------------------------------------------------------------
# Ports and processes
# ---------------------------------------------------------------------------

# rcp_port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
rcp_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

rcp_check_port_number() {
	case "$1" in
	'' | *[!0-9]*) rcp_die "$2 must be a port number, got '$1'" ;;
	esac
	if [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
		rcp_die "$2 must be a port number, got '$1'"
	fi
}

# rcp_pid_alive PID
rcp_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# rcp_read_pid PIDFILE: prints the pid in PIDFILE (empty if none).
rcp_read_pid() {
	local pid=''
	if [ -s "$1" ]; then
		read -r pid <"$1" || true
	fi
	case "$pid" in '' | *[!0-9]*) pid='' ;; esac
	printf '%s' "$pid"
}

# rcp_pid_owns_dir PID DIR: the process runs with DIR as its working directory.
# Both redis-server (--dir) and mariadbd (--datadir) chdir into their data
# directory, so this tells "our" server apart from a recycled pid.
rcp_pid_owns_dir() {
	local cwd
	cwd="$(readlink "/proc/$1/cwd" 2>/dev/null)" || return 1
	[ "$cwd" = "$(cd "$2" 2>/dev/null && pwd -P)" ]
}

# rcp_stop_pidfile NAME PIDFILE DATADIR: stop the process recorded in PIDFILE if it
# is still the server that owns DATADIR; wait (bounded) for it to exit. Idempotent.
rcp_stop_pidfile() {
	local name="$1" pidfile="$2" datadir="$3" pid i
	pid="$(rcp_read_pid "$pidfile")"
	if [ -z "$pid" ] || ! rcp_pid_alive "$pid"; then
		rm -f "$pidfile"
		rcp_log "$name: not running"
		return 0
	fi
	if [ -d "$datadir" ] && ! rcp_pid_owns_dir "$pid" "$datadir"; then
		rcp_log "$name: pid $pid from $pidfile is not the server of $datadir any more; leaving it alone"
		rm -f "$pidfile"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < RCP_WAIT_SECONDS * 10; i++)); do
		rcp_pid_alive "$pid" || break
		sleep 0.1
	done
	if rcp_pid_alive "$pid"; then
		rcp_log "$name: pid $pid still running after ${RCP_WAIT_SECONDS}s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			rcp_pid_alive "$pid" || break
			sleep 0.1
		done
		rcp_pid_alive "$pid" && rcp_die "$name: pid $pid does not exit"
	fi
	rm -f "$pidfile"
	rcp_log "$name: stopped (pid $pid)"
}

# ---------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------

rcp_redis_ping() {
	[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = "PONG" ]
}

# rcp_start_redis NAME PORT DATADIR PIDFILE LOGFILE [EXTRA REDIS-SERVER OPTIONS...]
# Starts a daemonized redis-server with AOF on and RDB snapshots off, waits until
# it answers PING and checks that the answering server is the one just started.
rcp_start_redis() {
	local name="$1" port="$2" dir="$3" pidfile="$4" logfile="$5" pid i
	shift 5
	pid="$(rcp_read_pid "$pidfile")"
	if rcp_pid_alive "$pid" && rcp_pid_owns_dir "$pid" "$dir" && rcp_redis_ping "$port"; then
		rcp_log "$name: already running (pid $pid, port $port)"
		return 0
	fi
	if rcp_port_open "$port"; then
		rcp_die "$name: port 127.0.0.1:$port is already in use by another process; not reusing it${RCP_PORT_HINT:+ ($RCP_PORT_HINT)}"
	fi
	mkdir -p "$dir"
	rm -f "$pidfile"
	# shellcheck disable=SC2094 # only errors before daemonizing reach stdout
	if ! redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
		--dir "$dir" --appendonly yes --save '' \
		--daemonize yes --pidfile "$pidfile" --logfile "$logfile" \
		"$@" >>"$logfile" 2>&1; then
		rcp_tail "$logfile"
		rcp_die "$name: redis-server failed to start"
	fi
	for ((i = 0; i < RCP_WAIT_SECONDS * 10; i++)); do
		pid="$(rcp_read_pid "$pidfile")"
		if [ -n "$pid" ] && rcp_redis_ping "$port"; then
			break
		fi
		# The daemon writes its pid file at once; if it is gone again, it died.
		if [ "$i" -ge 20 ] && { [ -z "$pid" ] || ! rcp_pid_alive "$pid"; }; then
			rcp_tail "$logfile"
			rcp_die "$name: redis-server exited during startup (port $port)"
		fi
		sleep 0.1
	done
	if ! rcp_redis_ping "$port"; then
		rcp_tail "$logfile"
		rcp_die "$name: redis-server did not answer PING on 127.0.0.1:$port within ${RCP_WAIT_SECONDS}s"
	fi
	# Make sure the server answering is ours and not something that grabbed the port.
	local served
	served="$(redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p')"
	if [ "$served" != "$pid" ]; then
		rcp_tail "$logfile"
		rcp_die "$name: 127.0.0.1:$port is answered by pid '$served', not by the redis-server we started (pid $pid)"
	fi
	rcp_log "$name: redis-server up on 127.0.0.1:$port (pid $pid, data $dir)"
}

# ---------------------------------------------------------------------------
# Redis Cluster
# ---------------------------------------------------------------------------

# rcp_redis_cluster_state PORT: "STATE KNOWN_NODES SLOTS_ASSIGNED" from one CLUSTER
# INFO of the node (fields empty if it does not answer), e.g. "ok 3 16384".
rcp_redis_cluster_state() {
	local info k v state='' known='' slots=''
	info="$(redis-cli -h 127.0.0.1 -p "$1" cluster info 2>/dev/null)" || true
	while IFS=: read -r k v; do
		v="${v%$'\r'}"
		case "$k" in
		cluster_state) state="$v" ;;
		cluster_known_nodes) known="$v" ;;
		cluster_slots_assigned) slots="$v" ;;
		esac
	done <<<"$info"
	printf '%s %s %s' "$state" "$known" "$slots"
}

# rcp_redis_cluster_ready PORT...: true when every node says cluster_state:ok, knows
# exactly the nodes given and sees all 16384 slots assigned.
rcp_redis_cluster_ready() {
	local p
	for p in "$@"; do
		[ "$(rcp_redis_cluster_state "$p")" = "ok $# 16384" ] || return 1
	done
}

# rcp_start_redis_cluster NAME DIR PORT...: a Redis Cluster of one primary per PORT
# (no replicas) on loopback, node P with data in DIR/P, pid file DIR/P.pid, log
# DIR/P.log and cluster config DIR/nodes-P.conf; the cluster bus of node P is
# P+10000. Starts the nodes (AOF on, RDB off), runs `redis-cli --cluster create`
# unless they already form this very cluster, and waits (RCP_WAIT_SECONDS) until
# every node reports cluster_state:ok. Needs at least 3 ports.
rcp_start_redis_cluster() {
	local name="$1" dir="$2" p pid
	shift 2
	[ "$#" -ge 3 ] || rcp_die "$name: a Redis Cluster needs at least 3 primaries, got $# port(s)"
	mkdir -p "$dir"
	for p in "$@"; do
		pid="$(rcp_read_pid "$dir/$p.pid")"
		if ! { rcp_pid_alive "$pid" && rcp_pid_owns_dir "$pid" "$dir/$p"; } && rcp_port_open "$((p + 10000))"; then
			rcp_die "$name: cluster bus port 127.0.0.1:$((p + 10000)) (node port $p + 10000) is already in use by another process${RCP_PORT_HINT:+ ($RCP_PORT_HINT)}"
		fi
	done
	# The nodes start side by side; each start is bounded by RCP_WAIT_SECONDS.
	local jobs=() failed=0
	for p in "$@"; do
		rcp_start_redis_cluster_node "$name-$p" "$dir" "$p" &
		jobs+=("$!")
	done
	for pid in "${jobs[@]}"; do
		wait "$pid" || failed=1
	done
	[ "$failed" -eq 0 ] || rcp_die "$name: not every node started (see above)"
	# Nodes restarted from their nodes-P.conf form the cluster again by themselves.
	local state formed=1
	for p in "$@"; do
		state="$(rcp_redis_cluster_state "$p")"
		[ "${state#* }" = "$# 16384" ] || formed=0
	done
	local addrs=()
	for p in "$@"; do
		addrs+=("127.0.0.1:$p")
	done
	if [ "$formed" -eq 1 ]; then
		rcp_log "$name: nodes $* already form a cluster"
	else
		# A half-formed cluster (an earlier start that failed midway) cannot be
		# created over: empty the nodes and forget the cluster first.
		for p in "$@"; do
			state="$(rcp_redis_cluster_state "$p")"
			if [ "${state#* }" != "1 0" ]; then
				rcp_log "$name-$p: resetting a half-formed cluster state (state, known nodes, slots: $state)"
				redis-cli -h 127.0.0.1 -p "$p" flushall >/dev/null 2>&1 || true
				redis-cli -h 127.0.0.1 -p "$p" cluster reset hard >/dev/null 2>&1 ||
					rcp_die "$name-$p: CLUSTER RESET HARD failed"
			fi
		done
		if ! timeout -k 5 "$RCP_WAIT_SECONDS" redis-cli --cluster create "${addrs[@]}" \
			--cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1; then
			rcp_tail "$dir/create.log"
			rcp_die "$name: redis-cli --cluster create ${addrs[*]} failed"
		fi
	fi
	local deadline=$((SECONDS + RCP_WAIT_SECONDS))
	while ((SECONDS < deadline)); do
		rcp_redis_cluster_ready "$@" && break
		sleep 0.05
	done
	if ! rcp_redis_cluster_ready "$@"; then
		for p in "$@"; do
			rcp_log "$name-$p: state, known nodes, slots assigned: $(rcp_redis_cluster_state "$p")"
		done
		rcp_die "$name: the cluster did not reach cluster_state:ok on every node within ${RCP_WAIT_SECONDS}s"
	fi
	rcp_log "$name: cluster_state:ok on ${addrs[*]}"
}

# rcp_start_redis_cluster_node NAME DIR PORT: one node of rcp_start_redis_cluster.
# The bus port (PORT+10000) lies in Linux's ephemeral range (32768-60999), so an
# outgoing connection of any process may hold it for a moment; when the node
# cannot bind it, try again (5 attempts) before giving up.
rcp_start_redis_cluster_node() {
	local name="$1" dir="$2" p="$3" attempt
	for attempt in 1 2 3 4 5; do
		if (rcp_start_redis "$name" "$p" "$dir/$p" "$dir/$p.pid" "$dir/$p.log" \
			--cluster-enabled yes --cluster-config-file "$dir/nodes-$p.conf"); then
			return 0
		fi
		grep -q "Failed listening on port $((p + 10000)) (cluster)" "$dir/$p.log" 2>/dev/null ||
			rcp_die "$name: redis-server failed to start (see above)"
		rcp_log "$name: cluster bus port $((p + 10000)) is held by another socket (attempt $attempt of 5)"
		mv "$dir/$p.log" "$dir/$p.log.$attempt"
		sleep 0.5
	done
	rcp_die "$name: cannot bind the cluster bus port 127.0.0.1:$((p + 10000))${RCP_PORT_HINT:+ ($RCP_PORT_HINT)}"
}

# rcp_stop_redis_cluster NAME DIR: stop every node that rcp_start_redis_cluster
# started under DIR (by its pid file), all at once, and wait for them. Idempotent.
rcp_stop_redis_cluster() {
	local name="$1" dir="$2" f p rc=0 jobs=()
	[ -d "$dir" ] || return 0
	for f in "$dir"/*.pid; do
		[ -e "$f" ] || continue
		p="$(basename "$f" .pid)"
		(rcp_stop_pidfile "$name-$p" "$f" "$dir/$p") &
		jobs+=("$!")
	done
	for p in "${jobs[@]}"; do
		wait "$p" || rc=1
	done
	return "$rc"
}

# ---------------------------------------------------------------------------
# MariaDB
# ---------------------------------------------------------------------------

rcp_mysql_ping() {
	mariadb-admin --no-defaults -h127.0.0.1 -P"$1" -uroot --connect-timeout=2 ping >/dev/null 2>&1
}

# rcp_mysql PORT ARGS...: the mariadb client as root over TCP.
rcp_mysql() {
	local port="$1"
	shift
	mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot --connect-timeout=5 "$@"
}

# rcp_start_mariadb NAME PORT DATADIR SOCKET PIDFILE LOGFILE [EXTRA MARIADBD OPTIONS...]
# Initialises DATADIR once (root without password), starts mariadbd in its own
# session in the background, waits until it answers and checks it is ours.
rcp_start_mariadb() {
	local name="$1" port="$2" datadir="$3" socket="$4" pidfile="$5" logfile="$6" pid i
	shift 6
	pid="$(rcp_read_pid "$pidfile")"
	if rcp_pid_alive "$pid" && rcp_pid_owns_dir "$pid" "$datadir" && rcp_mysql_ping "$port"; then
		rcp_log "$name: already running (pid $pid, port $port)"
		return 0
	fi
	if rcp_port_open "$port"; then
		rcp_die "$name: port 127.0.0.1:$port is already in use by another process; not reusing it${RCP_PORT_HINT:+ ($RCP_PORT_HINT)}"
	fi
	local user
	user="$(id -un)"
	if [ ! -d "$datadir/mysql" ]; then
		mkdir -p "$datadir"
		if ! mariadb-install-db --no-defaults --user="$user" --datadir="$datadir" \
			--auth-root-authentication-method=normal --skip-test-db \
			>"$logfile.install" 2>&1; then
			rcp_tail "$logfile.install"
			rcp_die "$name: mariadb-install-db failed for $datadir"
		fi
	fi
	rm -f "$pidfile"
	# setsid: own session, so a Ctrl-C in the terminal does not reach the server;
	# the caller stops it through the pid file.
	# utf8mb4: what Debian's packaged config sets (and --no-defaults skips).
	setsid mariadbd --no-defaults --user="$user" --datadir="$datadir" \
		--port="$port" --bind-address=127.0.0.1 --socket="$socket" \
		--pid-file="$pidfile" \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		"$@" </dev/null >>"$logfile" 2>&1 &
	local launched=$!
	for ((i = 0; i < RCP_WAIT_SECONDS * 10; i++)); do
		if rcp_mysql_ping "$port" && [ -s "$pidfile" ]; then
			break
		fi
		if ! rcp_pid_alive "$launched"; then
			rcp_tail "$logfile"
			rcp_die "$name: mariadbd exited during startup (port $port)"
		fi
		sleep 0.1
	done
	if ! rcp_mysql_ping "$port"; then
		rcp_tail "$logfile"
		kill -TERM "$launched" 2>/dev/null || true
		rcp_die "$name: mariadbd did not answer on 127.0.0.1:$port within ${RCP_WAIT_SECONDS}s"
	fi
	pid="$(rcp_read_pid "$pidfile")"
	[ -n "$pid" ] || { pid="$launched" && printf '%s\n' "$pid" >"$pidfile"; }
	# Root must get in without a password, and the server must be ours.
	local served
	if ! served="$(rcp_mysql "$port" -N -B -e 'SELECT @@datadir' 2>&1)"; then
		rcp_tail "$logfile"
		rcp_die "$name: root cannot log in on 127.0.0.1:$port: $served"
	fi
	if [ "${served%/}" != "$(cd "$datadir" && pwd -P)" ]; then
		rcp_die "$name: 127.0.0.1:$port is answered by a MariaDB with datadir '$served', not ours ($datadir)"
	fi
	rcp_log "$name: mariadbd up on 127.0.0.1:$port (pid $pid, data $datadir)"
}

# ---------------------------------------------------------------------------
# S3 (versitygw)
# ---------------------------------------------------------------------------

# The S3-compatible server of the tests, pinned (go install into GOPATH/bin).
RCP_VERSITYGW_MODULE="github.com/versity/versitygw"
RCP_VERSITYGW_VERSION="v1.8.0"

# rcp_versitygw_bin: the path versitygw is installed at: GOPATH/bin, whatever GOBIN says.
rcp_versitygw_bin() {
	command -v go >/dev/null 2>&1 || rcp_die "go is not on PATH (needed to find or install versitygw)"
	local gopath
	gopath="$(go env GOPATH)"
	printf '%s/bin/versitygw' "${gopath%%:*}" # go install uses the first entry
}

# rcp_ensure_versitygw: go install versitygw RCP_VERSITYGW_VERSION unless the
# binary in GOPATH/bin is already that version (≈ 2.5 min cold on 2 cores).
rcp_ensure_versitygw() {
	local bin
	bin="$(rcp_versitygw_bin)"
	if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null |
		grep -Eq "^[[:space:]]+mod[[:space:]]+${RCP_VERSITYGW_MODULE}[[:space:]]+${RCP_VERSITYGW_VERSION}([[:space:]]|\$)"; then
		return 0
	fi
	rcp_log "installing versitygw $RCP_VERSITYGW_VERSION into $(dirname "$bin") (takes a few minutes)"
	local t0=$SECONDS
	GOBIN="$(dirname "$bin")" go install "$RCP_VERSITYGW_MODULE/cmd/versitygw@$RCP_VERSITYGW_VERSION" ||
		rcp_die "go install $RCP_VERSITYGW_MODULE/cmd/versitygw@$RCP_VERSITYGW_VERSION failed"
	rcp_log "versitygw installed in $((SECONDS - t0))s"
}

# rcp_s3_answers PORT: true when an HTTP server answers on 127.0.0.1:PORT (an
# anonymous request gets some HTTP status, e.g. 403 from versitygw).
rcp_s3_answers() {
	local code
	code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null)" || true
	[ -n "$code" ] && [ "$code" != 000 ]
}

# rcp_start_versitygw NAME PORT DATADIR PIDFILE LOGFILE ACCESS SECRET REGION
# Starts versitygw with the posix backend on DATADIR (its working directory
# too, for rcp_pid_owns_dir) in its own session, waits until it answers HTTP
# and checks the port is held by that process. Creates no bucket.
rcp_start_versitygw() {
	local name="$1" port="$2" datadir="$3" pidfile="$4" logfile="$5" access="$6" secret="$7" region="$8" pid i bin
	bin="$(rcp_versitygw_bin)"
	[ -x "$bin" ] || rcp_die "$name: $bin is missing: run deploy/test-deps.sh"
	command -v curl >/dev/null 2>&1 || rcp_die "$name: curl is needed to check that versitygw answers"
	pid="$(rcp_read_pid "$pidfile")"
	if rcp_pid_alive "$pid" && rcp_pid_owns_dir "$pid" "$datadir" && rcp_s3_answers "$port"; then
		rcp_log "$name: already running (pid $pid, port $port)"
		return 0
	fi
	if rcp_port_open "$port"; then
		rcp_die "$name: port 127.0.0.1:$port is already in use by another process; not reusing it${RCP_PORT_HINT:+ ($RCP_PORT_HINT)}"
	fi
	mkdir -p "$datadir"
	datadir="$(cd "$datadir" && pwd -P)"
	rm -f "$pidfile"
	# setsid as for mariadbd; the subshell execs, so $! is versitygw's pid.
	(cd "$datadir" && exec setsid "$bin" --port "127.0.0.1:$port" --access "$access" \
		--secret "$secret" --region "$region" posix "$datadir" </dev/null >>"$logfile" 2>&1) &
	pid=$!
	printf '%s\n' "$pid" >"$pidfile"
	for ((i = 0; i < RCP_WAIT_SECONDS * 20; i++)); do
		rcp_s3_answers "$port" && break
		if ! rcp_pid_alive "$pid"; then
			rcp_tail "$logfile"
			rcp_die "$name: versitygw exited during startup (port $port)"
		fi
		sleep 0.05
	done
	if ! rcp_s3_answers "$port"; then
		rcp_tail "$logfile"
		kill -TERM "$pid" 2>/dev/null || true
		rcp_die "$name: versitygw did not answer on 127.0.0.1:$port within ${RCP_WAIT_SECONDS}s"
	fi
	# The server answering must be ours.
	if command -v ss >/dev/null 2>&1 && ! ss -H -ltnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid,"; then
		rcp_tail "$logfile"
		rcp_die "$name: 127.0.0.1:$port is not held by the versitygw we started (pid $pid)"
	fi
	rcp_log "$name: versitygw up on 127.0.0.1:$port (pid $pid, data $datadir)"
}
