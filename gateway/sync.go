package gateway

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// MaxSyncCursors bounds the cursors of one sync request.
const MaxSyncCursors = 10000

// ErrBadCursor: a sync cursor is neither a stream id nor "0".
var ErrBadCursor = errors.New("invalid cursor")

// SyncRoom is a room with entries after the client's cursor.
type SyncRoom struct {
	Room    string `json:"room"`
	Newest  string `json:"newest"`  // id of the room's newest entry
	Seq     int64  `json:"seq"`     // its sequence number
	Count   int64  `json:"count"`   // entries after the cursor: seq(newest) − seq(cursor)
	Pending int64  `json:"pending"` // entries pending for the user (XPENDING)
}

// Syncer answers sync requests: which of a user's rooms changed since the
// client's cursors. Its Redis cost does not grow in round trips with the
// rooms: one pipeline of HMGET on the heads hashes (one per partition),
// one pipeline of cursor probes and XPENDING summaries for the changed
// rooms. MySQL gives the user's rooms and, for a cursor older than what
// the stream still holds, its sequence number.
type Syncer struct {
	b *broker.Broker
	q *rcpdb.Queries
}

// NewSyncer returns a syncer on the broker and the MySQL record.
func NewSyncer(b *broker.Broker, db *sql.DB) *Syncer {
	return &Syncer{b: b, q: rcpdb.New(db)}
}

// ValidCursor reports whether c is a stream id or "0".
func ValidCursor(c string) bool {
	if isStart(c) {
		return true
	}
	_, err := broker.ParseID(c)
	return err == nil
}

// Sync returns, in room id order, the user's rooms with entries after the
// client's cursor; a room of the user's missing from cursors counts from
// "0", cursors of rooms the user is not a member of are ignored.
func (s *Syncer) Sync(ctx context.Context, user string, cursors map[string]string) ([]SyncRoom, error) {
	for room, c := range cursors {
		if !ValidCursor(c) {
			return nil, fmt.Errorf("room %.64q cursor %.64q: %w", room, c, ErrBadCursor)
		}
	}
	rooms, err := s.userRooms(ctx, user)
	if err != nil {
		return nil, err
	}
	heads, err := s.b.Heads(ctx, rooms)
	if err != nil {
		return nil, err
	}
	var changed, at []string
	for _, r := range rooms {
		h, ok := heads[r]
		c := cursors[r]
		if isStart(c) {
			c = "0"
		}
		if ok && (c == "0" || compareIDs(c, h.ID) < 0) {
			changed, at = append(changed, r), append(at, c)
		}
	}
	states, err := s.b.ProbeCursors(ctx, user, changed, at)
	if err != nil {
		return nil, err
	}
	out := make([]SyncRoom, len(changed))
	for i, r := range changed {
		h := heads[r]
		n, err := s.count(ctx, r, at[i], h, states[i])
		if err != nil {
			return nil, err
		}
		out[i] = SyncRoom{Room: r, Newest: h.ID, Seq: h.Seq, Count: n, Pending: states[i].Pending}
	}
	return out, nil
}

// userRooms lists the user's rooms from MySQL, a thousand per query.
func (s *Syncer) userRooms(ctx context.Context, user string) ([]string, error) {
	const page = 1000
	var rooms []string
	after := ""
	for {
		ids, err := s.q.ListUserRoomIDs(ctx, rcpdb.ListUserRoomIDsParams{UserID: user, After: after, Limit: page})
		if err != nil {
			return nil, fmt.Errorf("rooms of %s: %w", user, err)
		}
		rooms = append(rooms, ids...)
		if len(ids) < page {
			return slices.Clip(rooms), nil
		}
		after = ids[len(ids)-1]
	}
}

// count is the entries after the cursor by sequence numbers: seq(newest)
// minus the seq of the newest entry at or before the cursor, read from the
// stream when it still holds one, else from MySQL.
func (s *Syncer) count(ctx context.Context, room, cursor string, h broker.Head, st broker.CursorState) (int64, error) {
	switch {
	case cursor == "0":
		return h.Seq, nil
	case st.AtOrBefore != nil:
		return h.Seq - st.AtOrBefore.Seq, nil
	case st.First != nil && (st.First.Seq == 1 || st.First.PrevID == cursor):
		return h.Seq - st.First.Seq + 1, nil
	}
	id, _ := broker.ParseID(cursor)
	seq, err := s.q.SeqAtOrBefore(ctx, rcpdb.SeqAtOrBeforeParams{RoomID: room, IDMs: id.Ms, IDSeq: id.Seq})
	if err == nil {
		return h.Seq - int64(seq), nil
	}
	if !errNoRows(err) {
		return 0, fmt.Errorf("sync %s: seq at %s: %w", room, cursor, err)
	}
	// Nothing at or before the cursor is left (retention): count what is.
	seq, err = s.q.SeqAfter(ctx, rcpdb.SeqAfterParams{RoomID: room, IDMs: id.Ms, IDSeq: id.Seq})
	switch {
	case err == nil:
		return h.Seq - int64(seq) + 1, nil
	case !errNoRows(err):
		return 0, fmt.Errorf("sync %s: seq after %s: %w", room, cursor, err)
	case st.First != nil:
		return h.Seq - st.First.Seq + 1, nil
	}
	return 0, nil
}
