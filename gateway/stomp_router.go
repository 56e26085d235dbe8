package gateway

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/stomp"
)

// maxReplayBuffer bounds the live entries a subscription holds while its
// backlog is being replayed; past it the connection is dropped as a slow
// consumer (the entries stay pending in the ledger).
const maxReplayBuffer = 4096

// Router hands feed entries to this node's room subscriptions.
type Router struct {
	mu    sync.RWMutex
	rooms map[string]map[*roomSub]struct{}
	acker *broker.Acker
	media *media.Service                              // image bodies at delivery (media.go); nil: as stored
	users map[string]map[*stomp.Subscription]struct{} // /user/queue/events by user (sync_stomp.go)
}

// NewRouter returns an empty router; acker acknowledges auto-mode deliveries.
func NewRouter(acker *broker.Acker) *Router {
	return &Router{rooms: make(map[string]map[*roomSub]struct{}), acker: acker}
}

// roomSub is one STOMP subscription to a room. Until its backlog has been
// replayed, live entries are buffered; every entry at or below `last` is
// skipped, so replay and live delivery meet with no gap and no duplicate.
type roomSub struct {
	sub        *stomp.Subscription
	room, user string

	mu        sync.Mutex
	replaying bool
	buf       []broker.Entry
	last      broker.StreamID
}

func (r *Router) add(rs *roomSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rooms[rs.room]
	if m == nil {
		m = make(map[*roomSub]struct{})
		r.rooms[rs.room] = m
	}
	m[rs] = struct{}{}
}

func (r *Router) remove(rs *roomSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rooms[rs.room], rs)
	if len(r.rooms[rs.room]) == 0 {
		delete(r.rooms, rs.room)
	}
}

// Dispatch delivers one feed entry to every local subscription of its room.
// The fan-out calls it in stream order per room.
func (r *Router) Dispatch(e broker.Entry) {
	r.mu.RLock()
	subs := make([]*roomSub, 0, len(r.rooms[e.Room]))
	for rs := range r.rooms[e.Room] {
		subs = append(subs, rs)
	}
	r.mu.RUnlock()
	if len(subs) > 0 && e.Type == "image" && r.media != nil {
		e.Body = r.media.Deliverable(context.Background(), e.Body, true) // once per node, not per subscription
	}
	for _, rs := range subs {
		rs.live(r, e)
	}
}

// Subscriptions counts the local room subscriptions.
func (r *Router) Subscriptions() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, m := range r.rooms {
		n += len(m)
	}
	return n
}

func (rs *roomSub) live(r *Router, e broker.Entry) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.replaying {
		if len(rs.buf) >= maxReplayBuffer {
			rs.sub.Conn().Close("slow consumer: too many messages during backlog replay")
			return
		}
		rs.buf = append(rs.buf, e)
		return
	}
	rs.deliverLocked(r, e)
}

// replayed delivers the backlog entries (in order), then what arrived live
// meanwhile, and switches the subscription to live delivery.
func (rs *roomSub) replayed(r *Router, backlog []broker.Entry, done bool) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, e := range backlog {
		if err := rs.deliverLocked(r, e); err != nil {
			return err
		}
	}
	if !done {
		return nil
	}
	for _, e := range rs.buf {
		if err := rs.deliverLocked(r, e); err != nil {
			return err
		}
	}
	rs.buf, rs.replaying = nil, false
	return nil
}

func (rs *roomSub) deliverLocked(r *Router, e broker.Entry) error {
	id, err := broker.ParseID(e.ID)
	if err != nil || !rs.last.Less(id) {
		return nil // already delivered (or not a stream id)
	}
	// A user's own message is in nobody's ledger for them (rcp_send gives
	// the sender no pending entry): its ACK would be an XACK of nothing.
	own := e.Sender == rs.user
	m := stomp.Message{ID: e.ID, Header: messageHeaders(e), Body: e.Body, Settled: own}
	if rs.sub.Ack == stomp.AckAuto && r.acker != nil && !own {
		room, user, eid := rs.room, rs.user, e.ID
		m.Written = func() { r.acker.Ack(room, user, eid) }
	}
	if err := rs.sub.Deliver(m); err != nil {
		if errors.Is(err, stomp.ErrUnknownSub) {
			return nil // unsubscribed meanwhile
		}
		return err
	}
	rs.last = id
	return nil
}

// messageHeaders are the MESSAGE headers of the contract (the stomp layer
// adds message-id, ack, subscription and destination).
func messageHeaders(e broker.Entry) stomp.Header {
	h := make(stomp.Header, 0, 7)
	h = append(h,
		stomp.HeaderField{Key: "content-type", Value: "application/json"},
		stomp.HeaderField{Key: "x-room", Value: e.Room},
		stomp.HeaderField{Key: "x-stream-id", Value: e.ID},
		stomp.HeaderField{Key: "x-seq", Value: strconv.FormatInt(e.Seq, 10)})
	if e.PrevID != "" {
		h = append(h, stomp.HeaderField{Key: "x-prev-id", Value: e.PrevID})
	}
	return append(h,
		stomp.HeaderField{Key: "x-sender", Value: e.Sender},
		stomp.HeaderField{Key: "x-ts", Value: strconv.FormatInt(e.TimeMs(), 10)})
}
