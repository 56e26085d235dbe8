package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// RoomKind is what a room is for; the kind does not change.
type RoomKind string

const (
	// KindGroup is a room of any number of members, up to the member limit.
	KindGroup RoomKind = "group"
	// KindDirect is a conversation between exactly two users.
	KindDirect RoomKind = "direct"
	// KindO2O is a room opened for one order or booking (a customer and a
	// courier, say); it is closed when the order ends and expires after.
	KindO2O RoomKind = "o2o"
)

// PushPreview is how much of a message a push notification shows.
type PushPreview string

const (
	// PreviewDefault defers to the server's global policy.
	PreviewDefault PushPreview = ""
	PreviewNone    PushPreview = "none"
	PreviewSender  PushPreview = "sender"
	PreviewText    PushPreview = "text"
)

// RoleMember is the role of every member added through the room API.
const RoleMember = "member"

// Limits of room attributes.
const (
	MaxRoomNameRunes = 200
	MaxRetentionDays = 36500 // 100 years; 0 keeps forever
	// DefaultMemberLimit bounds a room's members: every send costs Redis
	// about 5 µs per member inside one Function call (DESIGN.md).
	DefaultMemberLimit = 1000
	// directMembers is the member count of a direct room.
	directMembers = 2
)

// Errors of the room store, for callers to branch on.
var (
	ErrRoomNotFound = errors.New("room not found")
	// ErrRoomExists: a room with the requested id exists and was created
	// from a different spec.
	ErrRoomExists  = errors.New("room exists with different attributes")
	ErrRoomClosed  = errors.New("room is closed")
	ErrMemberLimit = errors.New("room member limit reached")
	// ErrInvalidRoom wraps what is wrong with a RoomSpec.
	ErrInvalidRoom = errors.New("invalid room")
)

// RoomSpec is what a room is created from.
type RoomSpec struct {
	// ID is the room id; empty lets the store choose one.
	ID                 string
	Name               string
	Kind               RoomKind
	Members            []string
	TextRetentionDays  int
	MediaRetentionDays int
	PushPreview        PushPreview
}

// Room is a room and its members.
type Room struct {
	ID                 string
	Name               string
	Kind               RoomKind
	Members            []Member
	TextRetentionDays  int
	MediaRetentionDays int
	PushPreview        PushPreview
	CreatedAt          time.Time
	// ClosedAt is zero while the room is open.
	ClosedAt time.Time
}

// Member is a user's membership of a room.
type Member struct {
	RoomID   string
	UserID   string
	Role     string
	JoinedAt time.Time
}

// UserRoom is a room as listed for one of its members (without the member
// list), with that member's role and join time.
type UserRoom struct {
	Room
	Role     string
	JoinedAt time.Time
}

// RoomStore keeps rooms and their members. MySQLRoomStore is the system of
// record; the broker wraps it to mirror membership into Redis.
type RoomStore interface {
	// Create creates the room. When spec.ID names an existing room created
	// from an equal spec, it returns that room and created=false; from a
	// different spec, ErrRoomExists.
	Create(ctx context.Context, spec RoomSpec) (room Room, created bool, err error)
	// Get returns the room with its members, or ErrRoomNotFound.
	Get(ctx context.Context, roomID string) (Room, error)
	// AddMember adds the user; added=false when they were a member already.
	// ErrRoomNotFound, ErrRoomClosed, ErrMemberLimit.
	AddMember(ctx context.Context, roomID, userID string) (m Member, added bool, err error)
	// RemoveMember removes the user; removed=false when they were not a
	// member. ErrRoomNotFound.
	RemoveMember(ctx context.Context, roomID, userID string) (removed bool, err error)
	// Close closes the room (once: closing again keeps the first time) and
	// returns it. ErrRoomNotFound.
	Close(ctx context.Context, roomID string) (Room, error)
	// ListForUser returns up to limit of the user's rooms with ids greater
	// than after, in id order.
	ListForUser(ctx context.Context, userID, after string, limit int) ([]UserRoom, error)
}

// Normalize returns the spec with its members sorted and without duplicates.
func (s RoomSpec) Normalize() RoomSpec {
	s.Members = slices.Compact(slices.Sorted(slices.Values(s.Members)))
	return s
}

// Validate checks a normalized spec, except the member limit (the store's).
func (s RoomSpec) Validate() error {
	if s.ID != "" && !ValidRoomID(s.ID) {
		return fmt.Errorf("%w: id must be 1 to %d of A-Z a-z 0-9 _ -", ErrInvalidRoom, MaxRoomIDLen)
	}
	if err := validRoomName(s.Name); err != nil {
		return err
	}
	switch s.Kind {
	case KindGroup, KindO2O:
	case KindDirect:
		if len(s.Members) != directMembers {
			return fmt.Errorf("%w: a direct room has exactly %d distinct members, got %d",
				ErrInvalidRoom, directMembers, len(s.Members))
		}
	default:
		return fmt.Errorf("%w: kind must be group, direct or o2o", ErrInvalidRoom)
	}
	for _, m := range s.Members {
		if !ValidUserID(m) {
			return fmt.Errorf("%w: member %.140q is not a user id (1 to %d of A-Z a-z 0-9 _ -)",
				ErrInvalidRoom, m, MaxUserIDLen)
		}
	}
	if err := validRetention("textRetentionDays", s.TextRetentionDays); err != nil {
		return err
	}
	if err := validRetention("mediaRetentionDays", s.MediaRetentionDays); err != nil {
		return err
	}
	switch s.PushPreview {
	case PreviewDefault, PreviewNone, PreviewSender, PreviewText:
	default:
		return fmt.Errorf("%w: pushPreview must be none, sender, text or null", ErrInvalidRoom)
	}
	return nil
}

func validRetention(field string, days int) error {
	if days < 0 || days > MaxRetentionDays {
		return fmt.Errorf("%w: %s must be 0 (keep forever) to %d", ErrInvalidRoom, field, MaxRetentionDays)
	}
	return nil
}

func validRoomName(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalidRoom)
	}
	if n := utf8.RuneCountInString(name); n > MaxRoomNameRunes {
		return fmt.Errorf("%w: name has %d characters, at most %d", ErrInvalidRoom, n, MaxRoomNameRunes)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: name contains control characters", ErrInvalidRoom)
		}
	}
	return nil
}

// digest fingerprints a normalized spec, id excluded: an idempotent create
// with the same id succeeds only if the digests are equal.
func (s RoomSpec) digest() []byte {
	canonical, err := json.Marshal(struct {
		Name    string
		Kind    RoomKind
		Members []string
		Text    int
		Media   int
		Preview PushPreview
	}{s.Name, s.Kind, s.Members, s.TextRetentionDays, s.MediaRetentionDays, s.PushPreview})
	if err != nil {
		panic(fmt.Sprintf("gateway: marshal room spec: %v", err)) // plain strings and ints
	}
	sum := sha256.Sum256(canonical)
	return sum[:]
}
