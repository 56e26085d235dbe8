package gateway

import (
	"context"
	"fmt"

	"github.com/rcp/rcp/broker"
)

// LedgerRoomStore writes membership to the system of record first, then
// mirrors it into Redis (the join/leave Functions create and drop the
// members' consumer groups). A Redis failure after the MySQL write is
// returned, so the caller retries (every call is idempotent), and the
// reconcile at start repairs what a crash left behind.
type LedgerRoomStore struct {
	RoomStore
	broker *broker.Broker
}

// NewLedgerRoomStore wraps store with the broker.
func NewLedgerRoomStore(store RoomStore, b *broker.Broker) *LedgerRoomStore {
	return &LedgerRoomStore{RoomStore: store, broker: b}
}

// Create implements RoomStore.
func (s *LedgerRoomStore) Create(ctx context.Context, spec RoomSpec) (Room, bool, error) {
	room, created, err := s.RoomStore.Create(ctx, spec)
	if err != nil {
		return room, created, err
	}
	for _, m := range room.Members {
		if _, err := s.broker.Join(ctx, room.ID, m.UserID); err != nil {
			return room, created, fmt.Errorf("mirror room %s: %w", room.ID, err)
		}
	}
	return room, created, nil
}

// AddMember implements RoomStore.
func (s *LedgerRoomStore) AddMember(ctx context.Context, roomID, userID string) (Member, bool, error) {
	m, added, err := s.RoomStore.AddMember(ctx, roomID, userID)
	if err != nil {
		return m, added, err
	}
	if _, err := s.broker.Join(ctx, roomID, userID); err != nil {
		return m, added, fmt.Errorf("mirror member %s of %s: %w", userID, roomID, err)
	}
	return m, added, nil
}

// RemoveMember implements RoomStore.
func (s *LedgerRoomStore) RemoveMember(ctx context.Context, roomID, userID string) (bool, error) {
	removed, err := s.RoomStore.RemoveMember(ctx, roomID, userID)
	if err != nil {
		return removed, err
	}
	if _, err := s.broker.Leave(ctx, roomID, userID); err != nil {
		return removed, fmt.Errorf("mirror removal of %s from %s: %w", userID, roomID, err)
	}
	return removed, nil
}
