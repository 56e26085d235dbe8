-- Archived messages keep the stream entry's previous id (field `p`), so a
-- MESSAGE replayed from MySQL carries the same x-prev-id header as one read
-- from Redis, even after retention deleted the previous row. NULL on a
-- room's first message.

-- +goose Up
ALTER TABLE messages
  ADD COLUMN prev_ms  BIGINT UNSIGNED NULL,
  ADD COLUMN prev_seq BIGINT UNSIGNED NULL;

-- +goose Down
ALTER TABLE messages
  DROP COLUMN prev_ms,
  DROP COLUMN prev_seq;
