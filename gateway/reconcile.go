package gateway

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// ReconcileStats counts what a reconcile changed in Redis.
type ReconcileStats struct {
	Rooms, Joined, Left int
}

// Reconcile mirrors MySQL's memberships into Redis: a member missing from
// Redis is joined (its group is created at the room's newest entry, so no
// pending entry is invented), a member Redis has but MySQL does not is
// removed. After Redis lost its data, rooms come back empty and usable.
// Rooms that exist only in Redis are left alone.
func Reconcile(ctx context.Context, db *sql.DB, b *broker.Broker) (ReconcileStats, error) {
	q := rcpdb.New(db)
	var st ReconcileStats
	var room string
	var users []string
	after := rcpdb.ListMembershipsParams{Limit: 1000}
	for {
		page, err := q.ListMemberships(ctx, after)
		if err != nil {
			return st, fmt.Errorf("reconcile: list memberships: %w", err)
		}
		for _, m := range page {
			if m.RoomID != room && room != "" {
				if err := reconcileRoom(ctx, b, room, users, &st); err != nil {
					return st, err
				}
				users = users[:0]
			}
			room = m.RoomID
			users = append(users, m.UserID)
		}
		if len(page) < int(after.Limit) {
			break
		}
		last := page[len(page)-1]
		after.AfterRoom, after.AfterUser = last.RoomID, last.UserID
	}
	if room != "" {
		if err := reconcileRoom(ctx, b, room, users, &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

func reconcileRoom(ctx context.Context, b *broker.Broker, room string, want []string, st *ReconcileStats) error {
	st.Rooms++
	members, err := b.Members(ctx, room)
	if err != nil {
		return fmt.Errorf("reconcile %s: %w", room, err)
	}
	have := make(map[string]bool, len(members))
	for _, u := range members {
		have[u] = true
	}
	for _, u := range want {
		if have[u] {
			delete(have, u)
			continue
		}
		if _, err := b.Join(ctx, room, u); err != nil {
			return fmt.Errorf("reconcile %s: %w", room, err)
		}
		st.Joined++
	}
	for u := range have {
		if _, err := b.Leave(ctx, room, u); err != nil {
			return fmt.Errorf("reconcile %s: %w", room, err)
		}
		st.Left++
	}
	return nil
}
