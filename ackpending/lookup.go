package ackpending

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// lookup is what a room pass needs besides the ledger, read in one
// pipeline: who is online, and for the members that may be pushed (an
// entry idle >= the smaller threshold) their devices and the newest entry
// a notification would show.
type lookup struct {
	online  map[string]bool
	devices map[string][]Device // candidates only; nil slice: no device
	entries map[string]newestEntry
}

func (e *Escalator) lookup(ctx context.Context, k broker.Keys, room string, sc scanResult) (lookup, error) {
	minIdle := min(e.cfg.OfflineGrace, e.cfg.AckTimeout).Milliseconds()
	users := make([]string, 0, len(sc.members))
	var candidates, newest []string
	for _, m := range sc.members {
		users = append(users, m.user)
		if id := candidateNewest(m, minIdle); id != "" {
			candidates = append(candidates, m.user)
			newest = append(newest, id)
		}
	}
	lk := lookup{online: map[string]bool{}, devices: map[string][]Device{}, entries: map[string]newestEntry{}}
	if len(users) == 0 {
		return lk, nil
	}
	pipe := e.rdb.Pipeline()
	online := queueOnline(ctx, pipe, e.cfg.Prefix, users)
	cached := e.devices.queueCached(ctx, pipe, candidates)
	xr := make(map[string]*redis.XMessageSliceCmd)
	for _, id := range newest {
		if xr[id] == nil {
			xr[id] = pipe.XRange(ctx, k.Room(room), id, id)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return lk, fmt.Errorf("lookups of %s: %w", room, err)
	}
	lk.online = onlineFrom(users, online)
	devs, err := e.devices.fromCache(ctx, candidates, cached)
	if err != nil {
		return lk, err
	}
	for _, u := range candidates {
		lk.devices[u] = devs[u]
	}
	for id, c := range xr {
		for _, m := range c.Val() { // none when the entry was trimmed
			lk.entries[id] = entryFields(m)
		}
	}
	return lk, nil
}

// candidateNewest is the newest entry never pushed of a member with one
// such entry idle >= minIdle, or "" when the member cannot be due yet.
func candidateNewest(m memberScan, minIdle int64) string {
	id, due := "", false
	for _, en := range m.entries {
		if en.deliveries < 2 {
			id = en.id
			due = due || en.idle >= minIdle
		}
	}
	if !due {
		return ""
	}
	return id
}

func entryFields(m redis.XMessage) newestEntry {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	seq, _ := strconv.ParseInt(str("n"), 10, 64)
	return newestEntry{Sender: str("s"), Type: str("t"), Body: []byte(str("b")), Seq: seq}
}

// orDefault is room's policy, or the default when it cannot be read.
func (ps *policies) orDefault(ctx context.Context, room string, log *slog.Logger) Preview {
	p, err := ps.of(ctx, room)
	if err != nil {
		log.Warn("preview policy lookup failed; using the default", "room", room, "err", err)
		return ps.def
	}
	return p
}
