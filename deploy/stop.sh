#!/usr/bin/env bash
# `make stop`: stops the dev Redis and MariaDB that deploy/run.sh started from .run/
# (by their pid files; a service reused from elsewhere is left alone). Idempotent.
set -euo pipefail

RCP_LOG_PREFIX="stop"
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUN_DIR="$RCP_ROOT/.run"
rc=0
(rcp_stop_pidfile mariadb "$RUN_DIR/mysql.pid" "$RUN_DIR/mysql") || rc=1
(rcp_stop_pidfile redis "$RUN_DIR/redis.pid" "$RUN_DIR/redis") || rc=1
exit "$rc"
