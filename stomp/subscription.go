package stomp

import (
	"fmt"
	"slices"
	"strconv"
)

// AckMode is a subscription's acknowledgement mode.
type AckMode string

// The three modes of STOMP 1.2.
const (
	AckAuto             AckMode = "auto"
	AckClient           AckMode = "client"
	AckClientIndividual AckMode = "client-individual"
)

func parseAckMode(s string) (AckMode, bool) {
	switch AckMode(s) {
	case "", AckAuto:
		return AckAuto, true
	case AckClient, AckClientIndividual:
		return AckMode(s), true
	}
	return "", false
}

// Subscription is one SUBSCRIBE of one connection.
type Subscription struct {
	ID          string
	Destination string
	Ack         AckMode
	Header      Header // the SUBSCRIBE frame's headers (x-since, selectors…)

	conn *Conn
	tag  string // per-connection suffix that makes ack ids unique
	// guarded by conn.mu
	active  bool
	unacked []unackedMsg // delivery order
	value   any
}

type unackedMsg struct {
	ackID   string
	msgID   string
	settled bool // Message.Settled: acknowledged here, not passed on
}

// Conn is the subscription's connection.
func (s *Subscription) Conn() *Conn { return s.conn }

// SetValue attaches application data to the subscription.
func (s *Subscription) SetValue(v any) {
	s.conn.mu.Lock()
	s.value = v
	s.conn.mu.Unlock()
}

// Value returns what SetValue stored.
func (s *Subscription) Value() any {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	return s.value
}

// Message is what the application delivers to a subscription.
type Message struct {
	// ID identifies the message to the application (a stream id); it comes
	// back in Handler.Ack and Nack.
	ID     string
	Header Header // extra headers, after the standard ones
	Body   []byte
	// Written, if set, is called on the connection's writer goroutine once
	// the frame is flushed to the transport (ack mode auto acknowledges
	// then). It must not block.
	Written func()
	// Settled marks a message the application has nothing to acknowledge
	// for (a sender's own message: it is in nobody's ledger for them). The
	// client still ACKs it as any other; the ACK (or NACK) is accepted and
	// not passed to Handler.Ack or Nack.
	Settled bool
}

// Deliver queues a MESSAGE frame. It is safe from any goroutine. It fails
// with errClosed semantics (ErrUnknownSub) once the subscription ended, with
// ErrTooManyUnacked or ErrSlowConsumer when the connection is being dropped
// for not keeping up.
func (s *Subscription) Deliver(m Message) error {
	c := s.conn
	ackID := m.ID + "." + s.tag
	var hdr [16]HeaderField // the frame lives only until it is encoded below
	h := append(hdr[:0],
		HeaderField{Key: "subscription", Value: s.ID},
		HeaderField{Key: "message-id", Value: ackID},
		HeaderField{Key: "destination", Value: s.Destination})
	if s.Ack != AckAuto && c.Version() >= V12 {
		h = append(h, HeaderField{Key: "ack", Value: ackID})
	}
	h = append(h, m.Header...)
	b := AppendFrame(nil, &Frame{Command: CmdMessage, Header: h, Body: m.Body}, c.Version())

	c.mu.Lock()
	if !s.active {
		c.mu.Unlock()
		return fmt.Errorf("deliver %s: %w", m.ID, ErrUnknownSub)
	}
	if s.Ack != AckAuto {
		if len(c.pending) >= c.srv.cfg.MaxUnacked {
			c.mu.Unlock()
			err := errorf(ErrTooManyUnacked, "more than %d", c.srv.cfg.MaxUnacked)
			c.fail(err)
			return err
		}
		c.pending[ackID] = s
		s.unacked = append(s.unacked, unackedMsg{ackID: ackID, msgID: m.ID, settled: m.Settled})
	}
	err := c.enqueueEncoded(outFrame{b: b, written: m.Written}, CmdMessage)
	c.mu.Unlock()
	return err
}

// take removes ackID and, in client mode, every earlier unacked message of
// the subscription; it returns their message ids in delivery order, less
// the settled ones, and whether ackID was found. Called with conn.mu held.
func (s *Subscription) take(ackID string) ([]string, bool) {
	i := slices.IndexFunc(s.unacked, func(u unackedMsg) bool { return u.ackID == ackID })
	if i < 0 {
		return nil, false
	}
	first := i
	if s.Ack == AckClient {
		first = 0
	}
	ids := make([]string, 0, i-first+1)
	for _, u := range s.unacked[first : i+1] {
		if !u.settled {
			ids = append(ids, u.msgID)
		}
		delete(s.conn.pending, u.ackID)
	}
	s.unacked = slices.Delete(s.unacked, first, i+1)
	return ids, true
}

func (c *Conn) newSubscription(f *Frame, id string, mode AckMode) *Subscription {
	c.subSeq++
	return &Subscription{
		ID:          id,
		Destination: f.Header.Value("destination"),
		Ack:         mode,
		Header:      f.Header,
		conn:        c,
		tag:         strconv.Itoa(c.subSeq),
		active:      true,
	}
}
