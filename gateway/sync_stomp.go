package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/stomp"
)

// syncDest is the STOMP destination of offline sync; the reply arrives as a
// MESSAGE on the connection's /user/queue/events subscription.
const syncDest = "/app/sync"

// Refusals of SEND /app/sync.
const (
	msgNoEvents = "no events subscription"
	msgBadSync  = "invalid sync request"
)

// syncEdge gives the STOMP handler offline sync and history: SEND
// /app/sync, and backlog replay and x-since read through History (from
// MySQL for archived entries). A nil syncEdge leaves them off: SEND
// /app/sync is refused and replay reads the stream only.
type syncEdge struct {
	syncer  *Syncer
	history *History
	seq     atomic.Int64 // message ids of events
}

// SetSync enables SEND /app/sync and archive-aware replay; call it before
// serving.
func (h *STOMPHandler) SetSync(s *Syncer, hist *History) {
	h.sync = &syncEdge{syncer: s, history: hist}
}

// eventSubs are the /user/queue/events subscriptions of one connection.
type eventSubs struct {
	mu   sync.Mutex
	subs []*stomp.Subscription
}

func (es *eventSubs) add(s *stomp.Subscription) {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.subs = append(es.subs, s)
}

func (es *eventSubs) remove(s *stomp.Subscription) {
	es.mu.Lock()
	defer es.mu.Unlock()
	es.subs = slices.DeleteFunc(es.subs, func(x *stomp.Subscription) bool { return x == s })
}

// first is the connection's oldest events subscription, or nil.
func (es *eventSubs) first() *stomp.Subscription {
	es.mu.Lock()
	defer es.mu.Unlock()
	if len(es.subs) == 0 {
		return nil
	}
	return es.subs[0]
}

func (h *STOMPHandler) subscribeEvents(s *stomp.Subscription) {
	ss := sessionOf(s.Conn())
	ss.events.add(s)
	h.router.addEvents(ss.principal.UserID, s)
}

// unsubscribeEvents forgets s; it reports whether s was an events one.
func (h *STOMPHandler) unsubscribeEvents(s *stomp.Subscription) bool {
	if s.Destination != userEvents {
		return false
	}
	if ss := sessionOf(s.Conn()); ss != nil {
		ss.events.remove(s)
		h.router.removeEvents(ss.principal.UserID, s)
	}
	return true
}

func (r *Router) addEvents(user string, s *stomp.Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == nil {
		r.users = make(map[string]map[*stomp.Subscription]struct{})
	}
	m := r.users[user]
	if m == nil {
		m = make(map[*stomp.Subscription]struct{})
		r.users[user] = m
	}
	m[s] = struct{}{}
}

func (r *Router) removeEvents(user string, s *stomp.Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.users[user], s)
	if len(r.users[user]) == 0 {
		delete(r.users, user)
	}
}

// UserEvent delivers an event to every /user/queue/events subscription of
// user on this node (all the user's connected devices here) and returns
// how many got it. Events for users on other nodes are not relayed.
func (r *Router) UserEvent(user string, m stomp.Message) int {
	r.mu.RLock()
	subs := make([]*stomp.Subscription, 0, len(r.users[user]))
	for s := range r.users[user] {
		subs = append(subs, s)
	}
	r.mu.RUnlock()
	n := 0
	for _, s := range subs {
		if s.Deliver(m) == nil {
			n++
		}
	}
	return n
}

// sendSync answers SEND /app/sync {"cursors":{room: id}, "requestId"?}
// with a MESSAGE on the connection's /user/queue/events subscription,
// correlated by the request id (body requestId, else header x-request-id),
// before the RECEIPT.
func (h *STOMPHandler) sendSync(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (stomp.Header, error) {
	if h.sync == nil {
		return nil, stomp.Refuse(nil, msgUnknownDest, "sync is not enabled on this server")
	}
	events := sessionOf(c).events.first()
	if events == nil {
		return nil, stomp.Refuse(nil, msgNoEvents, "SUBSCRIBE to "+userEvents+" before SEND "+syncDest)
	}
	dec := json.NewDecoder(bytes.NewReader(f.Body))
	dec.DisallowUnknownFields()
	var req syncRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, stomp.Refuse(err, msgBadSync, `body: {"cursors":{"<room>":"<stream id>"},"requestId":"…"}`)
	}
	if req.RequestID == "" {
		req.RequestID = f.Header.Value("x-request-id")
	}
	if e := req.check(); e != nil {
		return nil, stomp.Refuse(e, msgBadSync, e.msg)
	}
	user := sessionOf(c).principal.UserID
	rooms, err := h.sync.syncer.Sync(ctx, user, req.Cursors)
	if err != nil {
		return nil, h.brokerError(err, "sync")
	}
	body, err := json.Marshal(syncReply{Type: "sync", RequestID: req.RequestID, Rooms: nonNil(rooms)})
	if err != nil {
		return nil, err
	}
	hdr := stomp.Header{{Key: "content-type", Value: "application/json"}, {Key: "x-event", Value: "sync"}}
	if req.RequestID != "" {
		hdr = append(hdr, stomp.HeaderField{Key: "x-request-id", Value: req.RequestID})
	}
	id := "sync-" + strconv.FormatInt(h.sync.seq.Add(1), 10)
	if err := events.Deliver(stomp.Message{ID: id, Header: hdr, Body: body}); err != nil {
		return nil, err
	}
	return stomp.Header{{Key: "x-request-id", Value: req.RequestID}}, nil
}

// readPage reads one page of a replay: everything after `after` (x-since)
// or the member's pending backlog; from the stream and, with sync enabled,
// from MySQL for entries already archived.
func (h *STOMPHandler) readPage(ctx context.Context, rs *roomSub, after string, all bool) (page []broker.Entry, next string, done bool, err error) {
	n := h.cfg.BacklogPage
	switch {
	case h.sync != nil && all:
		page, more, err := h.sync.history.After(ctx, rs.room, after, "", int(n))
		if err != nil || len(page) == 0 {
			return nil, after, true, err
		}
		return page, page[len(page)-1].ID, !more, nil
	case h.sync != nil:
		return h.sync.history.Backlog(ctx, rs.room, rs.user, after, n)
	case all:
		page, err = h.broker.Range(ctx, rs.room, after, n)
	default:
		page, err = h.broker.Backlog(ctx, rs.room, rs.user, after, n)
	}
	if err != nil || len(page) == 0 {
		return nil, after, true, err
	}
	return page, page[len(page)-1].ID, int64(len(page)) < n, nil
}
