-- name: CreateRoom :execrows
-- Inserts the room unless its id exists (0 rows: compare spec_sha256).
INSERT IGNORE INTO rooms (
  id, name, kind, created_at, text_retention_days, media_retention_days,
  push_preview, spec_sha256
) VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: GetRoom :one
SELECT id, name, kind, created_at, closed_at, text_retention_days,
       media_retention_days, push_preview, spec_sha256
FROM rooms
WHERE id = ?;

-- name: LockRoom :one
-- Locks the room row for the rest of the transaction: member changes of one
-- room serialize on it, so the member limit holds under concurrency.
SELECT id, kind, closed_at
FROM rooms
WHERE id = ?
FOR UPDATE;

-- name: CloseRoom :execrows
UPDATE rooms
SET closed_at = sqlc.arg(closed_at)
WHERE id = sqlc.arg(id) AND closed_at IS NULL;

-- name: ListRoomsClosedBefore :many
-- Retention: rooms closed before a cutoff, oldest first (index rooms_closed_at).
SELECT id, kind, closed_at, text_retention_days, media_retention_days
FROM rooms
WHERE closed_at < sqlc.arg(cutoff)
ORDER BY closed_at, id
LIMIT ?;

-- name: CountRooms :one
SELECT COUNT(*) FROM rooms;
