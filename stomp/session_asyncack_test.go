package stomp_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

// heldAcks is memtopic's handler with an AsyncAcker whose ACKs complete
// only when the test releases them; it counts the SENDs it handled.
type heldAcks struct {
	*memtopic.Handler
	acks  chan heldAck
	sends atomic.Int32
}

type heldAck struct {
	ids  []string
	done func(error)
}

func (h *heldAcks) AckAsync(_ context.Context, _ *stomp.Subscription, ids []string, done func(error)) {
	h.acks <- heldAck{ids: ids, done: done}
}

func (h *heldAcks) Send(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (stomp.Header, error) {
	h.sends.Add(1)
	return h.Handler.Send(ctx, c, f)
}

// held returns the next ACK handed to the handler.
func (h *heldAcks) held(t *testing.T) heldAck {
	t.Helper()
	select {
	case a := <-h.acks:
		return a
	case <-time.After(sessWait):
		t.Fatal("no ACK reached the handler")
		return heldAck{}
	}
}

// settle gives the reader time to handle what was sent (a negative check:
// reading with a deadline would break a WebSocket client).
func settle() { time.Sleep(200 * time.Millisecond) }

func startHeld(t *testing.T, kind string) (*heldAcks, *sessClient, *stomp.Frame) {
	h := &heldAcks{Handler: memtopic.New(), acks: make(chan heldAck, 16)}
	s := startSess(t, h, stomp.Config{})
	c := s.dial(t, kind)
	c.connect("ann")
	c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "s1", "ack", "client-individual")
	msgs, _ := c.call(stomp.CmdSend, "one", "destination", "/topic/a")
	if len(msgs) != 1 {
		t.Fatalf("got %d frames before the SEND receipt, want the MESSAGE", len(msgs))
	}
	return h, c, msgs[0]
}

func expectBody(t *testing.T, c *sessClient, body string) *stomp.Frame {
	t.Helper()
	f := c.expect(stomp.CmdMessage)
	if string(f.Body) != body {
		t.Fatalf("MESSAGE body %q, want %q", f.Body, body)
	}
	return f
}

func expectReceipt(t *testing.T, c *sessClient, id string) {
	t.Helper()
	if r := c.expect(stomp.CmdReceipt); r.Header.Value("receipt-id") != id {
		t.Fatalf("RECEIPT %v, want %s", r.Header, id)
	}
}

// receiptWaitsFor checks that the frame asking for receipt, already sent,
// holds the reader while ACK a is in flight: a SEND of body next is not
// handled until a is done, then the RECEIPT and next's MESSAGE follow.
func receiptWaitsFor(t *testing.T, h *heldAcks, c *sessClient, a heldAck, receipt, next string) {
	t.Helper()
	before := h.sends.Load()
	c.send(stomp.CmdSend, next, "destination", "/topic/a")
	settle()
	if n := h.sends.Load(); n != before {
		t.Fatalf("SEND %q handled while RECEIPT %s waits for an ACK", next, receipt)
	}
	a.done(nil)
	expectReceipt(t, c, receipt)
	expectBody(t, c, next)
}

// TestSessionAsyncAckKeepsReading: an ACK without receipt handed to an
// AsyncAcker does not hold the reader (a later SEND is delivered while
// the ACK is in flight), but a RECEIPT waits for it, and so does every
// frame after the one that asked for it.
func TestSessionAsyncAckKeepsReading(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h, c, m := startHeld(t, kind)
		c.send(stomp.CmdAck, "", "id", m.Header.Value("ack"))
		a := h.held(t)
		if !slices.Equal(a.ids, []string{"1"}) {
			t.Fatalf("ACK ids %v, want [1]", a.ids)
		}
		c.send(stomp.CmdSend, "two", "destination", "/topic/a")
		expectBody(t, c, "two")
		c.send(stomp.CmdSend, "three", "destination", "/topic/a", "receipt", "r-three")
		expectBody(t, c, "three")
		receiptWaitsFor(t, h, c, a, "r-three", "four")
	})
}

// TestSessionAsyncAckBarrier: a SUBSCRIBE after an ACK is handled only
// once the ACK is done (a backlog replay must not resend it), and an ACK
// asking for a receipt holds the frames after it until it is done.
func TestSessionAsyncAckBarrier(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h, c, m := startHeld(t, kind)
		c.send(stomp.CmdAck, "", "id", m.Header.Value("ack"))
		a := h.held(t)
		c.send(stomp.CmdSubscribe, "", "destination", "/topic/b", "id", "s2", "receipt", "r-sub")
		settle()
		if n := h.Subscribers("/topic/b"); n != 0 {
			t.Fatalf("SUBSCRIBE handled while an ACK was in flight (%d subscribers)", n)
		}
		a.done(nil)
		expectReceipt(t, c, "r-sub")
		if n := h.Subscribers("/topic/b"); n != 1 {
			t.Fatalf("%d subscribers of /topic/b after its RECEIPT, want 1", n)
		}

		c.send(stomp.CmdSend, "two", "destination", "/topic/a")
		two := expectBody(t, c, "two")
		c.send(stomp.CmdAck, "", "id", two.Header.Value("ack"), "receipt", "r-ack")
		receiptWaitsFor(t, h, c, h.held(t), "r-ack", "three")
	})
}

// TestSessionAsyncAckFailure: an ACK that fails after the reader moved on
// ends the session with an ERROR, as a synchronous failure would.
func TestSessionAsyncAckFailure(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h, c, m := startHeld(t, kind)
		c.send(stomp.CmdAck, "", "id", m.Header.Value("ack"))
		h.held(t).done(stomp.Refuse(errors.New("redis down"), "store down", "retry later"))
		c.expectError("store down")
	})
}
