-- Uploads that no SEND claimed are deleted once they are older than the
-- upload TTL (archiver retention): this index lists them oldest first
-- without reading the claimed images.

-- +goose Up
ALTER TABLE blobs
  ADD KEY blobs_unclaimed (claimed_at, deleted_at, created_at);

-- +goose Down
ALTER TABLE blobs
  DROP KEY blobs_unclaimed;
