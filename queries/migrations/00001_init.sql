-- Initial schema: rooms, members, devices, archived messages, blobs.
--
-- Identifiers (room ids, user ids, blob keys, client ids) are ASCII with a
-- binary collation: they are compared byte for byte, exactly as Redis compares
-- the keys built from them ("alice" and "Alice" are two users). Human text
-- (room names) is utf8mb4. Times are DATETIME(3) in UTC.

-- +goose Up
CREATE TABLE rooms (
  id                   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  name                 VARCHAR(200) NOT NULL DEFAULT '',
  kind                 ENUM('group', 'direct', 'o2o') NOT NULL,
  created_at           DATETIME(3)  NOT NULL,
  closed_at            DATETIME(3)  NULL,
  text_retention_days  INT UNSIGNED NOT NULL,
  media_retention_days INT UNSIGNED NOT NULL,
  -- NULL: the server's global default preview policy applies.
  push_preview         ENUM('none', 'sender', 'text') NULL,
  -- SHA-256 of the canonical create request: an idempotent create with the
  -- same id compares against it.
  spec_sha256          BINARY(32)   NOT NULL,
  PRIMARY KEY (id),
  -- retention: rooms closed before a cutoff.
  KEY rooms_closed_at (closed_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE room_members (
  room_id       VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id       VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  role          ENUM('member', 'admin') NOT NULL DEFAULT 'member',
  joined_at     DATETIME(3)  NOT NULL,
  -- Stream id of the room when the member's consumer group was created;
  -- NULL until the broker has created it.
  joined_id_ms  BIGINT UNSIGNED NULL,
  joined_id_seq BIGINT UNSIGNED NULL,
  PRIMARY KEY (room_id, user_id),
  -- a user's rooms.
  KEY room_members_user (user_id, room_id),
  CONSTRAINT room_members_room FOREIGN KEY (room_id) REFERENCES rooms (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE devices (
  -- FCM registration tokens are ASCII, up to a few hundred bytes.
  token      VARCHAR(512) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  user_id    VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  platform   ENUM('android', 'ios', 'web') NOT NULL,
  updated_at DATETIME(3)  NOT NULL,
  PRIMARY KEY (token),
  -- a user's devices.
  KEY devices_user (user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE messages (
  room_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- Redis stream id <ms>-<seq>: SQL order of (id_ms, id_seq) is stream order.
  id_ms      BIGINT UNSIGNED NOT NULL,
  id_seq     BIGINT UNSIGNED NOT NULL,
  -- the room's sequence number (1, 2, 3 … without gaps).
  seq        BIGINT UNSIGNED NOT NULL,
  sender_id  VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  type       VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  body       JSON         NOT NULL,
  client_id  VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  created_at DATETIME(3)  NOT NULL,
  PRIMARY KEY (room_id, id_ms, id_seq),
  -- a room's message by sequence number.
  UNIQUE KEY messages_room_seq (room_id, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE blobs (
  blob_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  room_id      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  owner_id     VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  content_type VARCHAR(127) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  size         BIGINT UNSIGNED NOT NULL,
  sha256       BINARY(32)   NOT NULL,
  created_at   DATETIME(3)  NOT NULL,
  deleted_at   DATETIME(3)  NULL,
  PRIMARY KEY (blob_key),
  -- retention: a room's live blobs older than a cutoff.
  KEY blobs_room_live (room_id, deleted_at, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE blobs;
DROP TABLE messages;
DROP TABLE devices;
DROP TABLE room_members;
DROP TABLE rooms;
