-- name: UpsertDevice :exec
INSERT INTO devices (token, user_id, platform, updated_at)
VALUES (?, ?, ?, ?)
ON DUPLICATE KEY UPDATE
  user_id = VALUES(user_id),
  platform = VALUES(platform),
  updated_at = VALUES(updated_at);

-- name: DeleteUserDevice :execrows
-- A user unregisters one of their devices.
DELETE FROM devices
WHERE token = ? AND user_id = ?;

-- name: DeleteDevice :execrows
-- FCM reported the token as unregistered or invalid.
DELETE FROM devices
WHERE token = ?;

-- name: ListUserDevices :many
SELECT token, user_id, platform, updated_at
FROM devices
WHERE user_id = ?
ORDER BY updated_at DESC;

-- name: GetDevice :one
-- The owner of a token, before it moves to another user.
SELECT token, user_id, platform, updated_at
FROM devices
WHERE token = ?;

-- name: ListDevicesOfUsers :many
-- Escalation loads the devices of several users at once (cache misses).
SELECT token, user_id, platform, updated_at
FROM devices
WHERE user_id IN (sqlc.slice(user_ids))
ORDER BY user_id, updated_at DESC;
