-- Retention and sync: the rooms the archiver's jobs and sync walk through.

-- name: ListRoomsWithRetention :many
-- Rooms with a text or media retention (0 = keep forever), in id order
-- after a cursor (primary key).
SELECT id, text_retention_days, media_retention_days
FROM rooms
WHERE id > sqlc.arg(after) AND (text_retention_days > 0 OR media_retention_days > 0)
ORDER BY id
LIMIT ?;

-- name: ListO2ORoomsClosedBefore :many
-- O2O rooms closed before a cutoff, due to expire (index rooms_closed_at).
SELECT id, closed_at
FROM rooms
WHERE kind = 'o2o' AND closed_at < sqlc.arg(cutoff)
ORDER BY closed_at, id
LIMIT ?;

-- name: DeleteRoom :execrows
-- An expired room; its memberships go with it (ON DELETE CASCADE).
DELETE FROM rooms WHERE id = ?;

-- name: ListUserRoomIDs :many
-- Sync: a user's room ids after a cursor (index room_members_user).
SELECT room_id
FROM room_members
WHERE user_id = sqlc.arg(user_id) AND room_id > sqlc.arg(after)
ORDER BY room_id
LIMIT ?;
