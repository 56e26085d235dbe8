package gateway

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// History reads a room's messages in one order, by stream id, whether they
// are still in the room's stream or already archived in MySQL.
//
// The stream always holds a contiguous suffix of the room's history (the
// archiver trims only from the oldest end, and only what MySQL holds), so
// a read goes to Redis first and to MySQL only for what lies before the
// stream's part: a page never skips or repeats an entry across the
// boundary, even while the archiver trims.
type History struct {
	b *broker.Broker
	q *rcpdb.Queries
}

// NewHistory returns the history reader on the broker and the MySQL record.
func NewHistory(b *broker.Broker, db *sql.DB) *History {
	return &History{b: b, q: rcpdb.New(db)}
}

// isStart reports a cursor meaning "before the first message".
func isStart(cursor string) bool { return cursor == "" || cursor == "0" || cursor == "0-0" }

// After returns up to limit messages of room with ids in (after, before),
// oldest first; "" (or "0") leaves a side open. more reports that messages
// follow the page (below before).
func (h *History) After(ctx context.Context, room, after, before string, limit int) ([]broker.Entry, bool, error) {
	if isStart(after) {
		after = ""
	}
	want := int64(limit) + 1
	res, err := h.b.RangeMany(ctx, []broker.RangeReq{{Room: room, After: after, Before: before, Count: want}})
	if err != nil {
		return nil, false, err
	}
	hot := res[0]
	if !joins(after, hot) {
		upper := before
		if len(hot) > 0 {
			upper = hot[0].ID
		}
		cold, err := h.archivedBetween(ctx, room, after, upper, want)
		if err != nil {
			return nil, false, err
		}
		hot = append(cold, hot...)
	}
	if len(hot) > limit {
		return hot[:limit], true, nil
	}
	return hot, false, nil
}

// joins reports that the stream's part starts right after the cursor: the
// first entry read is the room's first, or its previous id is the cursor.
// Otherwise entries between them may be archived.
func joins(after string, hot []broker.Entry) bool {
	return len(hot) > 0 && (hot[0].Seq == 1 || (after != "" && hot[0].PrevID == after))
}

// Before returns up to limit messages of room with ids below before ("" =
// up to the newest), the newest ones, oldest first. more reports that older
// messages exist.
func (h *History) Before(ctx context.Context, room, before string, limit int) ([]broker.Entry, bool, error) {
	want := int64(limit) + 1
	hot, err := h.b.RangeBefore(ctx, room, before, want)
	if err != nil {
		return nil, false, err
	}
	if int64(len(hot)) < want && (len(hot) == 0 || hot[len(hot)-1].Seq > 1) {
		upper := before
		if len(hot) > 0 {
			upper = hot[len(hot)-1].ID
		}
		cold, err := h.archivedBefore(ctx, room, upper, want-int64(len(hot)))
		if err != nil {
			return nil, false, err
		}
		hot = append(hot, cold...)
	}
	more := len(hot) > limit
	if more {
		hot = hot[:limit]
	}
	slices.Reverse(hot)
	return hot, more, nil
}

// Backlog returns up to count entries pending for user in room after
// `after`, oldest first, from the stream or (if trimmed) from MySQL; next
// is the id to continue after and done reports the end of the ledger.
// Reading has no side effect on delivery counts.
func (h *History) Backlog(ctx context.Context, room, user, after string, count int64) (entries []broker.Entry, next string, done bool, err error) {
	ps, err := h.b.Pending(ctx, room, user, after, count)
	if err != nil || len(ps) == 0 {
		return nil, after, true, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	entries, err = h.b.Entries(ctx, room, ids)
	if err != nil {
		return nil, after, false, err
	}
	if len(entries) < len(ids) {
		if entries, err = h.fillArchived(ctx, room, ids, entries); err != nil {
			return nil, after, false, err
		}
	}
	return entries, ids[len(ids)-1], int64(len(ps)) < count, nil
}

// fillArchived adds the pending entries missing from the stream from MySQL
// (one lookup each: only entries trimmed past the ledger by something other
// than the archiver are missing) and returns them all in ledger order.
func (h *History) fillArchived(ctx context.Context, room string, ids []string, hot []broker.Entry) ([]broker.Entry, error) {
	have := make(map[string]bool, len(hot))
	for _, e := range hot {
		have[e.ID] = true
	}
	out := hot
	for _, id := range ids {
		if have[id] {
			continue
		}
		sid, _ := broker.ParseID(id)
		row, err := h.q.GetMessage(ctx, rcpdb.GetMessageParams{RoomID: room, IDMs: sid.Ms, IDSeq: sid.Seq})
		if errNoRows(err) {
			continue // deleted by retention: nothing to replay
		}
		if err != nil {
			return nil, fmt.Errorf("archived backlog entry %s of %s: %w", id, room, err)
		}
		out = append(out, entryFromRow(row))
	}
	slices.SortFunc(out, func(a, b broker.Entry) int { return compareIDs(a.ID, b.ID) })
	return out, nil
}

func compareIDs(a, b string) int {
	x, _ := broker.ParseID(a)
	y, _ := broker.ParseID(b)
	switch {
	case x.Less(y):
		return -1
	case y.Less(x):
		return 1
	}
	return 0
}

// archivedBetween reads archived entries in (after, before), oldest first.
func (h *History) archivedBetween(ctx context.Context, room, after, before string, limit int64) ([]broker.Entry, error) {
	a, err := cursorID(after, broker.StreamID{})
	if err != nil {
		return nil, err
	}
	var rows []rcpdb.Message
	if before == "" {
		rows, err = h.q.ListMessagesAfter(ctx, rcpdb.ListMessagesAfterParams{RoomID: room,
			AfterMs: a.Ms, AfterSeq: a.Seq, Limit: int32(limit)})
	} else {
		b, perr := broker.ParseID(before)
		if perr != nil {
			return nil, perr
		}
		rows, err = h.q.ListMessagesBetween(ctx, rcpdb.ListMessagesBetweenParams{RoomID: room,
			AfterMs: a.Ms, AfterSeq: a.Seq, BeforeMs: b.Ms, BeforeSeq: b.Seq, Limit: int32(limit)})
	}
	if err != nil {
		return nil, fmt.Errorf("archived messages of %s after %q: %w", room, after, err)
	}
	return entriesFromRows(rows), nil
}

// archivedBefore reads archived entries below before, newest first.
func (h *History) archivedBefore(ctx context.Context, room, before string, limit int64) ([]broker.Entry, error) {
	b, err := cursorID(before, broker.StreamID{Ms: math.MaxUint64, Seq: math.MaxUint64})
	if err != nil {
		return nil, err
	}
	rows, err := h.q.ListMessagesBefore(ctx, rcpdb.ListMessagesBeforeParams{RoomID: room,
		BeforeMs: b.Ms, BeforeSeq: b.Seq, Limit: int32(limit)})
	if err != nil {
		return nil, fmt.Errorf("archived messages of %s before %q: %w", room, before, err)
	}
	return entriesFromRows(rows), nil
}

// cursorID parses a cursor; "" stands for open.
func cursorID(s string, open broker.StreamID) (broker.StreamID, error) {
	if s == "" {
		return open, nil
	}
	return broker.ParseID(s)
}

func entriesFromRows(rows []rcpdb.Message) []broker.Entry {
	out := make([]broker.Entry, len(rows))
	for i, r := range rows {
		out[i] = entryFromRow(r)
	}
	return out
}

// entryFromRow is an archived message as the stream held it.
func entryFromRow(m rcpdb.Message) broker.Entry {
	e := broker.Entry{Room: m.RoomID, ID: idString(m.IDMs, m.IDSeq), Seq: int64(m.Seq),
		Sender: m.SenderID, Type: m.Type, Body: []byte(m.Body), ClientID: m.ClientID.String}
	if m.PrevMs.Valid {
		e.PrevID = idString(uint64(m.PrevMs.Int64), uint64(m.PrevSeq.Int64))
	}
	return e
}

func idString(ms, seq uint64) string {
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq, 10)
}

// errNoRows tells a missing row from a failed query.
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
