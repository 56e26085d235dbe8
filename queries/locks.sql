-- name: AcquireLock :one
-- 1 when acquired, 0 on timeout (seconds), NULL on error.
SELECT GET_LOCK(sqlc.arg(name), sqlc.arg(timeout_seconds));

-- name: ReleaseLock :one
SELECT RELEASE_LOCK(sqlc.arg(name));
