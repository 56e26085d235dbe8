-- name: InsertMessage :execrows
-- Idempotent on (room, stream id): re-archiving an entry is a no-op.
INSERT IGNORE INTO messages (
  room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: ListMessagesAfter :many
-- Oldest first, strictly after the stream id (after_ms, after_seq).
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms > sqlc.arg(after_ms) OR (id_ms = sqlc.arg(after_ms) AND id_seq > sqlc.arg(after_seq)))
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: ListMessagesBefore :many
-- Newest first, strictly before the stream id (before_ms, before_seq).
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms < sqlc.arg(before_ms) OR (id_ms = sqlc.arg(before_ms) AND id_seq < sqlc.arg(before_seq)))
ORDER BY id_ms DESC, id_seq DESC
LIMIT ?;

-- name: NewestArchivedMessage :one
SELECT id_ms, id_seq, seq
FROM messages
WHERE room_id = ?
ORDER BY id_ms DESC, id_seq DESC
LIMIT 1;

-- name: DeleteMessagesBefore :execrows
-- Retention in bounded batches: stream ids are milliseconds since the epoch.
DELETE FROM messages
WHERE room_id = ? AND id_ms < sqlc.arg(cutoff_ms)
ORDER BY id_ms, id_seq
LIMIT ?;
