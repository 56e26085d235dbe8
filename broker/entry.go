package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	out, err := b.Entries(ctx, room, ids)
	if err != nil {
		return nil, fmt.Errorf("backlog of %s in %s: %w", user, room, err)
	}
	return out, nil
}

// RangeReq is one read of a batch: up to Count entries of Room with ids in
// (After, Before), oldest first; "" leaves a side open.
type RangeReq struct {
	Room, After, Before string
	Count               int64
}

// RangeMany runs the reads in one pipeline (one round trip per Redis node)
// and returns their entries in request order.
func (b *Broker) RangeMany(ctx context.Context, reqs []RangeReq) ([][]Entry, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(reqs))
	for i, r := range reqs {
		start, end := "-", "+"
		if r.After != "" {
			start = "(" + r.After
		}
		if r.Before != "" {
			end = "(" + r.Before
		}
		cmds[i] = pipe.XRangeN(ctx, b.KeysFor(r.Room).Room(r.Room), start, end, r.Count)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("range %d rooms: %w", len(reqs), err)
	}
	out := make([][]Entry, len(reqs))
	for i, c := range cmds {
		out[i] = entriesFrom(reqs[i].Room, c.Val())
	}
	return out, nil
}

// RangeBefore returns up to count entries of room with ids below before
// ("" = up to the newest), newest first.
func (b *Broker) RangeBefore(ctx context.Context, room, before string, count int64) ([]Entry, error) {
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := b.rdb.XRevRangeN(ctx, b.KeysFor(room).Room(room), end, "-", count).Result()
	if err != nil {
		return nil, fmt.Errorf("range %s before %q: %w", room, before, err)
	}
	return entriesFrom(room, msgs), nil
}

// Entries returns the listed entries of room that are still in the stream,
// in the order given, with one pipeline; trimmed ones are left out.
func (b *Broker) Entries(ctx context.Context, room string, ids []string) ([]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	key := b.KeysFor(room).Room(room)
	pipe := b.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.XRange(ctx, key, id, id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read %d entries of %s: %w", len(ids), room, err)
	}
	out := make([]Entry, 0, len(ids))
	for _, c := range cmds {
		out = append(out, entriesFrom(room, c.Val())...)
	}
	return out, nil
}

func entriesFrom(room string, msgs []redis.XMessage) []Entry {
	out := make([]Entry, len(msgs))
	for i, m := range msgs {
		out[i] = entryFrom(room, m)
	}
	return out
}

// Head is a room's newest entry as the partition's heads hash records it.
type Head struct {
	ID  string
	Seq int64
}

// Heads reads the heads of rooms with one HMGET per partition, all in one
// pipeline. Rooms without a message are absent from the result.
func (b *Broker) Heads(ctx context.Context, rooms []string) (map[string]Head, error) {
	byPart := make(map[int][]string)
	for _, r := range rooms {
		p := Partition(r, b.cfg.Partitions)
		byPart[p] = append(byPart[p], r)
	}
	pipe := b.rdb.Pipeline()
	cmds := make(map[int]*redis.SliceCmd, len(byPart))
	for p, rs := range byPart {
		cmds[p] = pipe.HMGet(ctx, Keys{Prefix: b.cfg.Prefix, Partition: p}.Heads(), rs...)
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("heads of %d rooms: %w", len(rooms), err)
		}
	}
	out := make(map[string]Head, len(rooms))
	for p, c := range cmds {
		for i, v := range c.Val() {
			if h, ok := parseHead(v); ok {
				out[byPart[p][i]] = h
			}
		}
	}
	return out, nil
}

// parseHead reads a heads value "id seq".
func parseHead(v any) (Head, bool) {
	s, ok := v.(string)
	if !ok {
		return Head{}, false
	}
	id, seq, ok := strings.Cut(s, " ")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil {
		return Head{}, false
	}
	return Head{ID: id, Seq: n}, true
}

// CursorState is what sync needs of one room for one user.
type CursorState struct {
	// AtOrBefore is the newest entry with an id at or before the cursor that
	// is still in the stream; nil if the stream holds none (cursor "0", or
	// trimmed past the cursor).
	AtOrBefore *Entry
	// First is the stream's oldest entry; nil if the stream is empty.
	First *Entry
	// Pending counts the entries pending for the user (XPENDING summary).
	Pending int64
}

// ProbeCursors reads, for each room and cursor, the entry at or before the
// cursor, the stream's first entry and the user's pending count, with one
// pipeline for all rooms. A room where the user has no group counts 0
// pending.
func (b *Broker) ProbeCursors(ctx context.Context, user string, rooms, cursors []string) ([]CursorState, error) {
	if len(rooms) == 0 {
		return nil, nil
	}
	pipe := b.rdb.Pipeline()
	type probe struct {
		at, first *redis.XMessageSliceCmd
		pending   *redis.XPendingCmd
	}
	ps := make([]probe, len(rooms))
	for i, r := range rooms {
		key := b.KeysFor(r).Room(r)
		if cursors[i] != "0" && cursors[i] != "0-0" {
			ps[i].at = pipe.XRevRangeN(ctx, key, cursors[i], "-", 1)
		}
		ps[i].first = pipe.XRangeN(ctx, key, "-", "+", 1)
		ps[i].pending = pipe.XPending(ctx, key, Group(user))
	}
	_, _ = pipe.Exec(ctx) // each command's error is looked at below
	out := make([]CursorState, len(rooms))
	for i, p := range ps {
		var err error
		if p.at != nil {
			out[i].AtOrBefore, err = firstOf(rooms[i], p.at)
		}
		if err == nil {
			out[i].First, err = firstOf(rooms[i], p.first)
		}
		if err != nil {
			return nil, fmt.Errorf("probe %s for %s: %w", rooms[i], user, err)
		}
		switch s, err := p.pending.Result(); {
		case err == nil:
			out[i].Pending = s.Count
		case !isNoGroup(err) && !errors.Is(err, redis.Nil):
			return nil, fmt.Errorf("pending of %s in %s: %w", user, rooms[i], err)
		}
	}
	return out, nil
}

func firstOf(room string, c *redis.XMessageSliceCmd) (*Entry, error) {
	msgs, err := c.Result()
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	e := entryFrom(room, msgs[0])
	return &e, nil
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}
