-- name: AddMember :execrows
INSERT IGNORE INTO room_members (room_id, user_id, role, joined_at)
VALUES (?, ?, ?, ?);

-- name: RemoveMember :execrows
DELETE FROM room_members
WHERE room_id = ? AND user_id = ?;

-- name: GetMember :one
SELECT room_id, user_id, role, joined_at, joined_id_ms, joined_id_seq
FROM room_members
WHERE room_id = ? AND user_id = ?;

-- name: ListRoomMembers :many
SELECT room_id, user_id, role, joined_at, joined_id_ms, joined_id_seq
FROM room_members
WHERE room_id = ?
ORDER BY user_id;

-- name: CountRoomMembers :one
SELECT COUNT(*) FROM room_members WHERE room_id = ?;

-- name: ListUserRooms :many
-- A user's rooms in room id order, after a cursor (index room_members_user).
SELECT r.id, r.name, r.kind, r.created_at, r.closed_at, r.text_retention_days,
       r.media_retention_days, r.push_preview, m.role, m.joined_at
FROM room_members m
JOIN rooms r ON r.id = m.room_id
WHERE m.user_id = sqlc.arg(user_id) AND m.room_id > sqlc.arg(after)
ORDER BY m.room_id
LIMIT ?;

-- name: SetMemberJoinedStreamID :execrows
-- Records where the member's consumer group starts in the room's stream.
UPDATE room_members
SET joined_id_ms = ?, joined_id_seq = ?
WHERE room_id = ? AND user_id = ?;

-- name: CountMembers :one
SELECT COUNT(*) FROM room_members;

-- name: ListMemberships :many
-- Every membership after a (room, user) cursor in key order, for the
-- reconcile that mirrors MySQL's members into Redis at start (primary key).
SELECT room_id, user_id
FROM room_members
WHERE room_id > sqlc.arg(after_room)
   OR (room_id = sqlc.arg(after_room) AND user_id > sqlc.arg(after_user))
ORDER BY room_id, user_id
LIMIT ?;
