package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"golang.org/x/time/rate"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/stomp"
)

// STOMP destinations of the contract.
const (
	roomTopicPrefix = "/topic/rooms/"
	roomAppPrefix   = "/app/rooms/"
	userEvents      = "/user/queue/events"
)

// Refusal messages: the `message` header of the ERROR frames clients see.
const (
	msgAuthFailed      = "authentication failed"
	msgUnknownDest     = "unknown destination"
	msgNotMember       = "not a member of the room"
	msgBadBody         = "invalid message body"
	msgRateLimited     = "rate limit exceeded"
	msgBadClientID     = "invalid x-client-id"
	msgBadCursor       = "invalid x-since"
	msgTemporarilyDown = "service temporarily unavailable"
)

// STOMPConfig tunes the STOMP edge.
type STOMPConfig struct {
	MaxText     int        // bytes of one text message
	SendRate    rate.Limit // SENDs per second per connection
	SendBurst   int
	BacklogPage int64 // entries read per page during replay
}

// DefaultSTOMPConfig is the configuration documented in docs/protocol.md.
func DefaultSTOMPConfig() STOMPConfig {
	return STOMPConfig{MaxText: DefaultMaxText, SendRate: 50, SendBurst: 100, BacklogPage: 200}
}

// STOMPHandler maps the contract's STOMP destinations to broker calls.
type STOMPHandler struct {
	auth   *Verifier
	broker *broker.Broker
	sender sender // writes SENDs: broker, or a broker.Sender (SetSender)
	router *Router
	cfg    STOMPConfig
	log    *slog.Logger
	push   *pushEdge      // presence and /app/devices (devices_stomp.go); nil: off
	sync   *syncEdge      // /app/sync, archive-aware replay (sync_stomp.go); nil: off
	media  *media.Service // image messages (media.go); nil: refused
}

// NewSTOMPHandler returns the stomp.Handler of rcpd.
func NewSTOMPHandler(auth *Verifier, b *broker.Broker, r *Router, cfg STOMPConfig, log *slog.Logger) *STOMPHandler {
	return &STOMPHandler{auth: auth, broker: b, sender: b, router: r, cfg: cfg, log: log}
}

// sender is what writes a message: Broker.Send, or a broker.Sender that
// shares pipelines among connections.
type sender interface {
	Send(context.Context, broker.SendRequest) (broker.SendResult, error)
}

// SetSender makes SENDs go through s (running its Run) instead of one
// Redis round trip of their own each. Call before serving.
func (h *STOMPHandler) SetSender(s *broker.Sender) { h.sender = s }

// session is what a connection carries for the handler.
type session struct {
	principal Principal
	limiter   *rate.Limiter
	events    eventSubs // its /user/queue/events subscriptions (sync_stomp.go)
}

func sessionOf(c *stomp.Conn) *session {
	s, _ := c.Value().(*session)
	return s
}

// Authenticate implements stomp.Handler with the JWT verifier.
func (h *STOMPHandler) Authenticate(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (string, error) {
	p, err := h.auth.VerifyConnect(ctx, f.Header.Get)
	if err != nil {
		return "", stomp.Refuse(err, msgAuthFailed, asAuthError(err).Reason)
	}
	c.SetValue(&session{principal: p, limiter: rate.NewLimiter(h.cfg.SendRate, h.cfg.SendBurst)})
	h.push.connected(ctx, c, p.UserID)
	return p.UserID, nil
}

// roomOf parses a room destination; ok is false for anything else.
func roomOf(dest string, prefixes ...string) (string, bool) {
	for _, p := range prefixes {
		if room, ok := strings.CutPrefix(dest, p); ok && ValidRoomID(room) {
			return room, true
		}
	}
	return "", false
}

// Send implements stomp.Handler: a text message to a room, receipted with
// its stream id and sequence number once every member's ledger has it.
func (h *STOMPHandler) Send(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (stomp.Header, error) {
	dest := f.Header.Value("destination")
	if dest == devicesDest {
		return h.sendDevice(ctx, c, f)
	}
	if dest == syncDest {
		return h.sendSync(ctx, c, f)
	}
	room, ok := roomOf(dest, roomAppPrefix, roomTopicPrefix)
	if !ok {
		return nil, stomp.Refuse(nil, msgUnknownDest, fmt.Sprintf("cannot SEND to %.100q", dest))
	}
	s := sessionOf(c)
	if !s.limiter.Allow() {
		return nil, stomp.Refuse(nil, msgRateLimited, fmt.Sprintf("at most %v SENDs per second", h.cfg.SendRate))
	}
	cid := f.Header.Value("x-client-id")
	if cid != "" && !broker.ValidID(cid) {
		return nil, stomp.Refuse(nil, msgBadClientID, "1 to 128 of A-Z a-z 0-9 _ -")
	}
	typ, body, err := h.messageBody(ctx, room, s.principal.UserID, cid, f.Body)
	if err != nil {
		return nil, h.bodyRefusal(err, room)
	}
	res, err := h.sender.Send(ctx, broker.SendRequest{Room: room, Sender: s.principal.UserID, Type: typ, Body: body, ClientID: cid})
	if err != nil {
		return nil, h.brokerError(err, room)
	}
	return stomp.Header{{Key: "x-stream-id", Value: res.ID}, {Key: "x-seq", Value: fmt.Sprint(res.Seq)}}, nil
}

func (h *STOMPHandler) brokerError(err error, room string) error {
	if errors.Is(err, broker.ErrNotMember) {
		return stomp.Refuse(err, msgNotMember, room)
	}
	if errors.Is(err, broker.ErrClientIDUsed) {
		return clientIDUsed(err, "another type")
	}
	h.log.Error("broker call failed", "room", room, "err", err)
	return stomp.Refuse(err, msgTemporarilyDown, "the message store did not answer; retry with the same x-client-id")
}

// clientIDUsed refuses a SEND whose x-client-id names a message of another
// type: the retry of a text cannot become an image, nor the reverse.
func clientIDUsed(err error, prior string) error {
	return stomp.Refuse(err, msgBadBody, "x-client-id already used for a message of "+prior+" in this room")
}

// checkMember refuses a user who is not a member of room.
func (h *STOMPHandler) checkMember(ctx context.Context, room, user string) error {
	member, err := h.broker.IsMember(ctx, room, user)
	if err != nil {
		return h.brokerError(err, room)
	}
	if !member {
		return stomp.Refuse(broker.ErrNotMember, msgNotMember, room)
	}
	return nil
}

// Subscribe implements stomp.Handler: a room subscription replays the
// member's pending backlog (or everything after x-since), then goes live.
func (h *STOMPHandler) Subscribe(ctx context.Context, s *stomp.Subscription) error {
	if s.Destination == userEvents {
		h.subscribeEvents(s) // sync replies and per-user events
		return nil
	}
	room, ok := roomOf(s.Destination, roomTopicPrefix)
	if !ok {
		return stomp.Refuse(nil, msgUnknownDest, fmt.Sprintf("cannot SUBSCRIBE to %.100q", s.Destination))
	}
	since, hasSince := s.Header.Get("x-since")
	if hasSince {
		if _, err := broker.ParseID(since); err != nil {
			return stomp.Refuse(err, msgBadCursor, "x-since must be a stream id like 1700000000000-0")
		}
	}
	user := sessionOf(s.Conn()).principal.UserID
	if err := h.checkMember(ctx, room, user); err != nil {
		return err
	}
	rs := &roomSub{sub: s, room: room, user: user, replaying: true}
	s.SetValue(rs)
	h.router.add(rs)
	if err := h.replay(ctx, rs, since, hasSince); err != nil {
		h.router.remove(rs)
		return err
	}
	return nil
}

// replay pages through the backlog (readPage, sync_stomp.go) and hands it
// to the subscription.
func (h *STOMPHandler) replay(ctx context.Context, rs *roomSub, after string, all bool) error {
	for {
		page, next, done, err := h.readPage(ctx, rs, after, all)
		if err != nil {
			return h.brokerError(err, rs.room)
		}
		deliverable(ctx, h.media, page, true)
		if err := rs.replayed(h.router, page, done); err != nil {
			return err
		}
		if done {
			return nil
		}
		after = next
	}
}

// Unsubscribe implements stomp.Handler.
func (h *STOMPHandler) Unsubscribe(_ context.Context, s *stomp.Subscription) {
	if h.unsubscribeEvents(s) {
		return
	}
	if rs, ok := s.Value().(*roomSub); ok {
		h.router.remove(rs)
	}
}

// Ack implements stomp.Handler: client-individual acknowledges the listed
// entries; client acknowledges everything pending up to the last of them.
// Sessions call AckAsync, which uses Ack for what it does not pipeline.
func (h *STOMPHandler) Ack(ctx context.Context, s *stomp.Subscription, ids []string) error {
	rs, ok := s.Value().(*roomSub)
	if !ok || len(ids) == 0 {
		return nil
	}
	var err error
	if s.Ack == stomp.AckClient {
		_, err = h.broker.AckUpTo(ctx, rs.room, rs.user, ids[len(ids)-1])
	} else {
		_, err = h.broker.Ack(ctx, rs.room, rs.user, ids...)
	}
	if err != nil {
		return h.brokerError(err, rs.room)
	}
	return nil
}

// AckAsync implements stomp.AsyncAcker: a client-individual ACK joins the
// shared XACK pipelines without holding the connection's reader (the
// session still waits for it before any RECEIPT). Other modes acknowledge
// at once, as Ack does.
func (h *STOMPHandler) AckAsync(ctx context.Context, s *stomp.Subscription, ids []string, done func(error)) {
	rs, ok := s.Value().(*roomSub)
	if !ok || s.Ack != stomp.AckClientIndividual || h.router.acker == nil {
		done(h.Ack(ctx, s, ids))
		return
	}
	h.router.acker.AckAsync(ctx, rs.room, rs.user, ids, func(err error) {
		if err != nil {
			err = h.brokerError(err, rs.room)
		}
		done(err)
	})
}

// Nack implements stomp.Handler: the entries stay pending in the ledger and
// come back on the next SUBSCRIBE (or as a push).
func (h *STOMPHandler) Nack(context.Context, *stomp.Subscription, []string) error { return nil }

// Disconnect implements stomp.Handler.
func (h *STOMPHandler) Disconnect(c *stomp.Conn) { h.push.disconnected(c) }
