package ackpending

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rcp/rcp/sqlc/rcpdb"
)

// policies caches each room's preview policy (rooms.push_preview; NULL or
// no row: the global default) for ttl.
type policies struct {
	q   *rcpdb.Queries
	def Preview
	ttl time.Duration

	mu    sync.Mutex
	rooms map[string]cachedPolicy
}

type cachedPolicy struct {
	p       Preview
	expires time.Time
}

func newPolicies(db *sql.DB, def Preview, ttl time.Duration) *policies {
	var q *rcpdb.Queries
	if db != nil {
		q = rcpdb.New(db)
	}
	return &policies{q: q, def: def, ttl: ttl, rooms: make(map[string]cachedPolicy)}
}

// of returns room's policy.
func (ps *policies) of(ctx context.Context, room string) (Preview, error) {
	if ps.q == nil {
		return ps.def, nil
	}
	now := time.Now()
	ps.mu.Lock()
	c, ok := ps.rooms[room]
	ps.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.p, nil
	}
	p := ps.def
	r, err := ps.q.GetRoom(ctx, room)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return "", fmt.Errorf("preview policy of %s: %w", room, err)
	case r.PushPreview.Valid:
		if v, err := ParsePreview(string(r.PushPreview.RoomsPushPreview)); err == nil {
			p = v
		}
	}
	ps.mu.Lock()
	if len(ps.rooms) > 100_000 {
		clear(ps.rooms)
	}
	ps.rooms[room] = cachedPolicy{p: p, expires: now.Add(ps.ttl)}
	ps.mu.Unlock()
	return p, nil
}
