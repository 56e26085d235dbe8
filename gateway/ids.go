package gateway

// Room ids and user ids appear in Redis keys, consumer group names, URL
// paths and STOMP destinations, so both are restricted to [A-Za-z0-9_-]:
// nothing to escape anywhere, no path traversal, no Redis hash-tag braces.
const (
	// MaxRoomIDLen is the longest room id.
	MaxRoomIDLen = 64
	// MaxUserIDLen is the longest user id (the JWT sub).
	MaxUserIDLen = 128
)

// ValidRoomID reports whether s is a room id: 1 to 64 of [A-Za-z0-9_-].
func ValidRoomID(s string) bool { return validID(s, MaxRoomIDLen) }

// ValidUserID reports whether s is a user id: 1 to 128 of [A-Za-z0-9_-].
func ValidUserID(s string) bool { return validID(s, MaxUserIDLen) }

func validID(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
