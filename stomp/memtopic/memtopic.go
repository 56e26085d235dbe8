// Package memtopic is an in-memory publish/subscribe stomp.Handler: every
// SEND to a destination is delivered to every subscription of that
// destination on this process. It backs the stomp package's conformance
// tests; it keeps no ledger and is never rcpd's default.
package memtopic

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rcp/rcp/stomp"
)

// Handler is the in-memory topic handler. The zero value is not usable;
// call New.
type Handler struct {
	mu    sync.Mutex
	subs  map[string]map[*stomp.Subscription]struct{}
	seq   atomic.Uint64
	acks  []string
	nacks []string
	// Authenticate decides CONNECT; nil accepts the login header (or
	// "anonymous") as the user.
	Auth func(f *stomp.Frame) (string, error)
	// Settle, when set, marks the messages it returns true for as
	// stomp.Message.Settled (rcpd settles a user's own messages).
	Settle func(body []byte) bool
}

// New returns an empty topic handler.
func New() *Handler {
	return &Handler{subs: make(map[string]map[*stomp.Subscription]struct{})}
}

// Authenticate implements stomp.Handler.
func (h *Handler) Authenticate(_ context.Context, _ *stomp.Conn, f *stomp.Frame) (string, error) {
	if h.Auth != nil {
		return h.Auth(f)
	}
	if login := f.Header.Value("login"); login != "" {
		return login, nil
	}
	return "anonymous", nil
}

// Send implements stomp.Handler: the message gets the next sequence number
// as its id and is delivered to every current subscriber.
func (h *Handler) Send(_ context.Context, c *stomp.Conn, f *stomp.Frame) (stomp.Header, error) {
	id := strconv.FormatUint(h.seq.Add(1), 10)
	dest := f.Header.Value("destination")
	extra := stomp.Header{{Key: "x-sender", Value: c.User()}}
	if ct, ok := f.Header.Get("content-type"); ok {
		extra = append(extra, stomp.HeaderField{Key: "content-type", Value: ct})
	}
	h.mu.Lock()
	targets := make([]*stomp.Subscription, 0, len(h.subs[dest]))
	for s := range h.subs[dest] {
		targets = append(targets, s)
	}
	h.mu.Unlock()
	settled := h.Settle != nil && h.Settle(f.Body)
	for _, s := range targets {
		// A subscriber that cannot take the message is being disconnected
		// by the stomp layer; the sender is not affected.
		_ = s.Deliver(stomp.Message{ID: id, Header: extra, Body: f.Body, Settled: settled})
	}
	return stomp.Header{{Key: "x-message-id", Value: id}}, nil
}

// Subscribe implements stomp.Handler.
func (h *Handler) Subscribe(_ context.Context, s *stomp.Subscription) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.subs[s.Destination]
	if m == nil {
		m = make(map[*stomp.Subscription]struct{})
		h.subs[s.Destination] = m
	}
	m[s] = struct{}{}
	return nil
}

// Unsubscribe implements stomp.Handler.
func (h *Handler) Unsubscribe(_ context.Context, s *stomp.Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[s.Destination], s)
	if len(h.subs[s.Destination]) == 0 {
		delete(h.subs, s.Destination)
	}
}

// Ack implements stomp.Handler by recording the ids.
func (h *Handler) Ack(_ context.Context, _ *stomp.Subscription, ids []string) error {
	h.mu.Lock()
	h.acks = append(h.acks, ids...)
	h.mu.Unlock()
	return nil
}

// Nack implements stomp.Handler by recording the ids.
func (h *Handler) Nack(_ context.Context, _ *stomp.Subscription, ids []string) error {
	h.mu.Lock()
	h.nacks = append(h.nacks, ids...)
	h.mu.Unlock()
	return nil
}

// Disconnect implements stomp.Handler.
func (h *Handler) Disconnect(*stomp.Conn) {}

// Acked returns the message ids acknowledged so far.
func (h *Handler) Acked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.acks...)
}

// Nacked returns the message ids refused so far.
func (h *Handler) Nacked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.nacks...)
}

// Subscribers returns how many subscriptions a destination has.
func (h *Handler) Subscribers(dest string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[dest])
}
