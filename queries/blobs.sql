-- name: InsertBlob :exec
INSERT INTO blobs (blob_key, room_id, owner_id, content_type, size, sha256, created_at)
VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: GetBlob :one
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at
FROM blobs
WHERE blob_key = ?;

-- name: ListRoomBlobsCreatedBefore :many
-- Retention: a room's live blobs older than a cutoff (index blobs_room_live).
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at
FROM blobs
WHERE room_id = ? AND deleted_at IS NULL AND created_at < sqlc.arg(cutoff)
ORDER BY created_at
LIMIT ?;

-- name: MarkBlobDeleted :execrows
UPDATE blobs
SET deleted_at = ?
WHERE blob_key = ? AND deleted_at IS NULL;
