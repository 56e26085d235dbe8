-- name: InsertBlob :exec
-- An image stored in the blob store: claimed_at is set when the SEND that
-- stored it claims it at once (base64 SEND), NULL for a direct upload.
INSERT INTO blobs (blob_key, room_id, owner_id, content_type, size, sha256, width, height, name,
                   created_at, claimed_at, claim_client)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: GetBlob :one
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at,
       width, height, name, claimed_at, claim_client
FROM blobs
WHERE blob_key = ?;

-- name: GetClaimedBlob :one
-- The image a user's x-client-id names in a room (index blobs_claim).
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at,
       width, height, name, claimed_at, claim_client
FROM blobs
WHERE room_id = ? AND owner_id = ? AND claim_client = ?;

-- name: ClaimBlob :execrows
-- A SEND references an upload: only the owner, only in the upload's room,
-- only once (0 rows: see GetBlob for why).
UPDATE blobs
SET claimed_at = sqlc.arg(claimed_at), claim_client = sqlc.arg(claim_client)
WHERE blob_key = sqlc.arg(blob_key) AND owner_id = sqlc.arg(owner_id) AND room_id = sqlc.arg(room_id)
  AND claimed_at IS NULL AND deleted_at IS NULL;

-- name: ListRoomBlobsCreatedBefore :many
-- Retention: a room's live blobs older than a cutoff (index blobs_room_live).
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at,
       width, height, name, claimed_at, claim_client
FROM blobs
WHERE room_id = ? AND deleted_at IS NULL AND created_at < sqlc.arg(cutoff)
ORDER BY created_at
LIMIT ?;

-- name: MarkBlobDeleted :execrows
UPDATE blobs
SET deleted_at = ?
WHERE blob_key = ? AND deleted_at IS NULL;

-- name: ListUnclaimedBlobsBefore :many
-- Uploads no SEND claimed, created before a cutoff, oldest first (index
-- blobs_unclaimed).
SELECT blob_key, room_id, owner_id, content_type, size, sha256, created_at, deleted_at,
       width, height, name, claimed_at, claim_client
FROM blobs
WHERE claimed_at IS NULL AND deleted_at IS NULL AND created_at < sqlc.arg(cutoff)
ORDER BY created_at
LIMIT ?;

-- name: MarkUnclaimedBlobDeleted :execrows
-- Retires an upload only while no SEND has claimed it: a claim and this
-- update race on the row, and exactly one of them wins (0 rows: the claim).
UPDATE blobs
SET deleted_at = ?
WHERE blob_key = ? AND claimed_at IS NULL AND deleted_at IS NULL;
