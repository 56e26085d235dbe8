#!/usr/bin/env bash
# `make run`: rcpd on this machine with private Redis and MariaDB, data under .run/.
#
#   Redis    127.0.0.1:16379 (AOF on)  data .run/redis     log .run/redis.log
#   MariaDB  127.0.0.1:13306 (root, no password)  data .run/mysql  log .run/mysql.log
#   rcpd     127.0.0.1:8080   ws://127.0.0.1:8080/ws (subprotocol v12.stomp)
#
# A service already answering on its port is reused. The services keep running
# after rcpd exits; `make stop` (deploy/stop.sh) stops them. Arguments are passed
# to rcpd. Environment: RCP_RUN_REDIS_PORT, RCP_RUN_MYSQL_PORT, RCP_LISTEN.
set -euo pipefail

RCP_LOG_PREFIX="run"
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RCP_ROOT"

REDIS_PORT="${RCP_RUN_REDIS_PORT:-16379}"
MYSQL_PORT="${RCP_RUN_MYSQL_PORT:-13306}"
LISTEN="${RCP_LISTEN:-127.0.0.1:8080}"
rcp_check_port_number "$REDIS_PORT" RCP_RUN_REDIS_PORT
rcp_check_port_number "$MYSQL_PORT" RCP_RUN_MYSQL_PORT

RUN_DIR="$RCP_ROOT/.run"

rcp_ensure_services_installed
mkdir -p "$RUN_DIR/blobs"

if rcp_redis_ping "$REDIS_PORT"; then
	rcp_log "reusing the Redis answering on 127.0.0.1:$REDIS_PORT"
else
	RCP_PORT_HINT="set RCP_RUN_REDIS_PORT to use another port" \
		rcp_start_redis redis "$REDIS_PORT" "$RUN_DIR/redis" "$RUN_DIR/redis.pid" "$RUN_DIR/redis.log"
fi

if rcp_mysql_ping "$MYSQL_PORT"; then
	rcp_log "reusing the MariaDB answering on 127.0.0.1:$MYSQL_PORT"
else
	RCP_PORT_HINT="set RCP_RUN_MYSQL_PORT to use another port" \
		rcp_start_mariadb mariadb "$MYSQL_PORT" "$RUN_DIR/mysql" "$RUN_DIR/mysql.sock" \
		"$RUN_DIR/mysql.pid" "$RUN_DIR/mysql.log"
fi
rcp_mysql "$MYSQL_PORT" -e 'CREATE DATABASE IF NOT EXISTS rcp' ||
	rcp_die "cannot create database rcp on 127.0.0.1:$MYSQL_PORT (see $RUN_DIR/mysql.log)"

# HS256 secret for local tokens, generated once.
if [ ! -s "$RUN_DIR/jwt.secret" ]; then
	(
		umask 077
		head -c 48 /dev/urandom | base64 -w0 >"$RUN_DIR/jwt.secret.tmp"
		echo >>"$RUN_DIR/jwt.secret.tmp"
		mv "$RUN_DIR/jwt.secret.tmp" "$RUN_DIR/jwt.secret"
	)
	rcp_log "generated $RUN_DIR/jwt.secret"
fi
# Signing secret of the local blob store's image URLs, generated once.
if [ ! -s "$RUN_DIR/blob-url.secret" ]; then
	(
		umask 077
		head -c 48 /dev/urandom | base64 -w0 >"$RUN_DIR/blob-url.secret.tmp"
		mv "$RUN_DIR/blob-url.secret.tmp" "$RUN_DIR/blob-url.secret"
	)
	rcp_log "generated $RUN_DIR/blob-url.secret"
fi

rcp_log "go build -o bin/rcpd ./cmd/rcpd"
go build -o bin/rcpd ./cmd/rcpd ||
	rcp_die "go build ./cmd/rcpd failed (Redis and MariaDB keep running; make stop stops them)"

export RCP_LISTEN="$LISTEN"
export RCP_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export RCP_MYSQL_DSN="root@tcp(127.0.0.1:$MYSQL_PORT)/rcp?parseTime=true"
RCP_JWT_SECRET="$(cat "$RUN_DIR/jwt.secret")"
export RCP_JWT_SECRET
export RCP_BLOB_DIR="$RUN_DIR/blobs"
RCP_BLOB_URL_SECRET="$(cat "$RUN_DIR/blob-url.secret")"
export RCP_BLOB_URL_SECRET

host="${LISTEN%:*}"
port="${LISTEN##*:}"
case "$host" in '' | 0.0.0.0 | '[::]' | ::) host=127.0.0.1 ;; esac
export RCP_BLOB_PUBLIC_URL="${RCP_BLOB_PUBLIC_URL:-http://$host:$port}"

cat <<INFO

RCP dev server
  WebSocket  ws://$host:$port/ws   (subprotocol v12.stomp; CONNECT with header
             Authorization: Bearer <token>, or passcode: <token>)
  Health     http://$host:$port/healthz
  Redis      redis-cli -p $REDIS_PORT
  MariaDB    mariadb --no-defaults -h127.0.0.1 -P$MYSQL_PORT -uroot rcp
  Images     stored in $RUN_DIR/blobs, served at http://$host:$port/v1/blobs/ (signed URLs)
  Data/logs  $RUN_DIR   (make stop: stop Redis and MariaDB)
INFO

admin="$(bin/rcpd token --sub admin --scope rooms:admin)"
alice="$(bin/rcpd token --sub alice)"
bob="$(bin/rcpd token --sub bob)"
cat <<TOKENS
  Tokens (24 h; more with: RCP_JWT_SECRET=\$(cat .run/jwt.secret) bin/rcpd token --sub <user>)
    admin (scope rooms:admin)  $admin
    alice                      $alice
    bob                        $bob
  Try: create a room for alice and bob, then SEND to /app/rooms/demo and
  SUBSCRIBE to /topic/rooms/demo with their tokens:
    curl -s -XPOST http://$host:$port/v1/rooms -H "Authorization: Bearer $admin" \\
      -H 'Content-Type: application/json' -d '{"id":"demo","name":"Demo","kind":"group",
      "members":["alice","bob"],"textRetentionDays":0,"mediaRetentionDays":0}'
TOKENS
echo

exec bin/rcpd "$@"
