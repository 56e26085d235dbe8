-- Archived messages: the archiver inserts stream entries older than the hot
-- window; sync, paging and backlog replay read them back in stream order
-- (id_ms, id_seq); retention deletes them in bounded batches.

-- name: InsertMessage :execrows
-- Idempotent on (room, stream id): re-archiving an entry is a no-op.
INSERT IGNORE INTO messages (
  room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: InsertMessages32 :execrows
-- The archiver's batch: 32 rows per round trip (one row per statement costs
-- ~135 µs each on loopback; see docs/sync.md). A short batch is padded by
-- repeating its last row, which INSERT IGNORE drops as a duplicate.
INSERT IGNORE INTO messages (
  room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at, prev_ms, prev_seq
) VALUES
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),
  (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: ListMessagesAfter :many
-- Oldest first, strictly after the stream id (after_ms, after_seq).
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at, prev_ms, prev_seq
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms > sqlc.arg(after_ms) OR (id_ms = sqlc.arg(after_ms) AND id_seq > sqlc.arg(after_seq)))
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: ListMessagesBetween :many
-- Oldest first, strictly between two stream ids (paging with after and before).
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at, prev_ms, prev_seq
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms > sqlc.arg(after_ms) OR (id_ms = sqlc.arg(after_ms) AND id_seq > sqlc.arg(after_seq)))
  AND (id_ms < sqlc.arg(before_ms) OR (id_ms = sqlc.arg(before_ms) AND id_seq < sqlc.arg(before_seq)))
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: ListMessagesBefore :many
-- Newest first, strictly before the stream id (before_ms, before_seq).
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at, prev_ms, prev_seq
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms < sqlc.arg(before_ms) OR (id_ms = sqlc.arg(before_ms) AND id_seq < sqlc.arg(before_seq)))
ORDER BY id_ms DESC, id_seq DESC
LIMIT ?;

-- name: GetMessage :one
-- One archived entry: a pending entry no longer in the stream.
SELECT room_id, id_ms, id_seq, seq, sender_id, type, body, client_id, created_at, prev_ms, prev_seq
FROM messages
WHERE room_id = ? AND id_ms = ? AND id_seq = ?;

-- name: SeqAtOrBefore :one
-- Sync: the sequence number of the newest archived entry at or before a cursor.
SELECT seq
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms < sqlc.arg(id_ms) OR (id_ms = sqlc.arg(id_ms) AND id_seq <= sqlc.arg(id_seq)))
ORDER BY id_ms DESC, id_seq DESC
LIMIT 1;

-- name: SeqAfter :one
-- Sync: the sequence number of the oldest archived entry after a cursor.
SELECT seq
FROM messages
WHERE room_id = sqlc.arg(room_id)
  AND (id_ms > sqlc.arg(id_ms) OR (id_ms = sqlc.arg(id_ms) AND id_seq > sqlc.arg(id_seq)))
ORDER BY id_ms, id_seq
LIMIT 1;

-- name: NewestArchivedMessage :one
SELECT id_ms, id_seq, seq
FROM messages
WHERE room_id = ?
ORDER BY id_ms DESC, id_seq DESC
LIMIT 1;

-- name: CountRoomMessages :one
SELECT COUNT(*) FROM messages WHERE room_id = ?;

-- name: DeleteMessagesBefore :execrows
-- Retention in bounded batches: stream ids are milliseconds since the epoch.
DELETE FROM messages
WHERE room_id = ? AND id_ms < sqlc.arg(cutoff_ms)
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: DeleteTextMessagesBefore :execrows
-- Text retention: every type but the media types, older than the cutoff.
DELETE FROM messages
WHERE room_id = ? AND id_ms < sqlc.arg(cutoff_ms)
  AND type NOT IN ('image', 'video', 'audio', 'file')
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: DeleteMediaMessagesBefore :execrows
-- Media retention: the media types, older than the cutoff.
DELETE FROM messages
WHERE room_id = ? AND id_ms < sqlc.arg(cutoff_ms)
  AND type IN ('image', 'video', 'audio', 'file')
ORDER BY id_ms, id_seq
LIMIT ?;

-- name: DeleteRoomMessages :execrows
-- An expired room's messages, in bounded batches.
DELETE FROM messages
WHERE room_id = ?
ORDER BY id_ms, id_seq
LIMIT ?;
