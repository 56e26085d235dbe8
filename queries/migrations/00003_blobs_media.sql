-- Images of messages (issue 7): a blob row is written when an image is
-- stored, by a base64 SEND or by a direct upload (POST /v1/uploads). The row
-- carries what the image entry needs (dimensions, name) and who claimed an
-- upload: a SEND may reference an uploaded key once, so claimed_at is set by
-- the SEND that used it and claim_client is its x-client-id (NULL: none).
-- One x-client-id of a user in a room names one image: a retried SEND finds
-- its image by it, and the unique key stops two attempts from storing two.

-- +goose Up
ALTER TABLE blobs
  ADD COLUMN width        INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN height       INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN name         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '',
  ADD COLUMN claimed_at   DATETIME(3)  NULL,
  ADD COLUMN claim_client VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  ADD UNIQUE KEY blobs_claim (room_id, owner_id, claim_client);

-- +goose Down
ALTER TABLE blobs
  DROP KEY blobs_claim,
  DROP COLUMN width,
  DROP COLUMN height,
  DROP COLUMN name,
  DROP COLUMN claimed_at,
  DROP COLUMN claim_client;
