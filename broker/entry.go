package broker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Entry is one message of a room as stored in its stream.
type Entry struct {
	Room     string
	ID       string // stream id
	Seq      int64  // the room's sequence number
	PrevID   string // previous entry's id, "" for the first
	Sender   string
	Type     string
	Body     []byte
	ClientID string
}

// TimeMs is the entry's time in Unix milliseconds, from its id.
func (e Entry) TimeMs() int64 {
	id, err := ParseID(e.ID)
	if err != nil {
		return 0
	}
	return int64(id.Ms)
}

func entryFrom(room string, m redis.XMessage) Entry {
	e := Entry{Room: room, ID: m.ID}
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	e.Sender, e.Type, e.ClientID, e.PrevID = str("s"), str("t"), str("c"), str("p")
	e.Body = []byte(str("b"))
	e.Seq, _ = strconv.ParseInt(str("n"), 10, 64)
	if r := str("r"); r != "" {
		e.Room = r
	}
	if i := str("i"); i != "" {
		e.ID = i
	}
	return e
}

// Range returns up to count entries of room with ids in (after, before]
// order: after "" means from the start, before "" up to the newest.
func (b *Broker) Range(ctx context.Context, room, after string, count int64) ([]Entry, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	msgs, err := b.rdb.XRangeN(ctx, b.KeysFor(room).Room(room), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("range %s after %q: %w", room, after, err)
	}
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		out[i] = entryFrom(room, m)
	}
	return out, nil
}

// PendingEntry is one entry of a member's ledger, as XPENDING shows it.
type PendingEntry struct {
	ID         string
	Idle       int64 // milliseconds since last delivery
	Deliveries int64
}

// Pending lists up to count entries pending for user in room, oldest first,
// with ids after `after` ("" = from the start).
func (b *Broker) Pending(ctx context.Context, room, user, after string, count int64) ([]PendingEntry, error) {
	start := "-"
	if after != "" {
		start = "(" + after
	}
	ps, err := b.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: b.KeysFor(room).Room(room), Group: Group(user), Start: start, End: "+", Count: count,
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("pending of %s in %s: %w", user, room, err)
	}
	out := make([]PendingEntry, len(ps))
	for i, p := range ps {
		out[i] = PendingEntry{ID: p.ID, Idle: p.Idle.Milliseconds(), Deliveries: p.RetryCount}
	}
	return out, nil
}

// Backlog returns up to count entries pending for user in room after
// `after`, with their contents, oldest first. It reads XPENDING and XRANGE
// only: delivery counts do not change. An entry trimmed from the stream is
// left out.
func (b *Broker) Backlog(ctx context.Context, room, user, after string, count int64) ([]Entry, error) {
	ps, err := b.Pending(ctx, room, user, after, count)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	key := b.KeysFor(room).Room(room)
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(ps))
	for i, p := range ps {
		cmds[i] = pipe.XRange(ctx, key, p.ID, p.ID)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("backlog of %s in %s: %w", user, room, err)
	}
	out := make([]Entry, 0, len(ps))
	for _, c := range cmds {
		for _, m := range c.Val() {
			out = append(out, entryFrom(room, m))
		}
	}
	return out, nil
}
