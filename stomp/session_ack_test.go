package stomp_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

// TestSessionReceipts: every client frame carrying receipt gets a RECEIPT
// with that receipt-id, in order; SEND's carries the handler's headers.
func TestSessionReceipts(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "s1", "ack", "client-individual")
		msgs, r := c.call(stomp.CmdSend, "one", "destination", "/topic/a")
		if got := r.Header.Value("x-message-id"); got != "1" {
			t.Errorf("SEND RECEIPT x-message-id %q, want 1 (headers %v)", got, r.Header)
		}
		if len(msgs) != 1 {
			t.Fatalf("got %d frames before the SEND receipt, want the MESSAGE", len(msgs))
		}
		m := msgs[0]
		c.callQuiet(stomp.CmdAck, "", "id", m.Header.Value("ack"))
		_, r = c.call(stomp.CmdSend, "two", "destination", "/topic/a")
		c.callQuiet(stomp.CmdNack, "", "id", "2."+strings.SplitN(m.Header.Value("ack"), ".", 2)[1])
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t1")
		c.callQuiet(stomp.CmdSend, "in tx", "destination", "/topic/b", "transaction", "t1")
		c.callQuiet(stomp.CmdCommit, "", "transaction", "t1")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t2")
		c.callQuiet(stomp.CmdAbort, "", "transaction", "t2")
		c.callQuiet(stomp.CmdUnsubscribe, "", "id", "s1")
		c.callQuiet(stomp.CmdDisconnect, "")
		c.expectClosed()
	})
}

// TestSessionMessageHeaders: message-id and ack are "<app id>.<tag>", the
// tag differing between subscriptions of one connection.
func TestSessionMessageHeaders(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "auto", "ack", "auto")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "cli", "ack", "client")
		msgs, _ := c.call(stomp.CmdSend, `{"t":"x"}`, "destination", "/topic/a", "content-type", "application/json")
		if len(msgs) != 2 {
			t.Fatalf("got %d MESSAGEs, want one per subscription", len(msgs))
		}
		ids := map[string]string{}
		for _, m := range msgs {
			sub := m.Header.Value("subscription")
			id := m.Header.Value("message-id")
			if !strings.HasPrefix(id, "1.") || len(id) < 3 {
				t.Errorf("%s: message-id %q, want 1.<tag>", sub, id)
			}
			ids[sub] = id
			ack, hasAck := m.Header.Get("ack")
			if sub == "cli" && ack != id {
				t.Errorf("client mode: ack %q, want message-id %q", ack, id)
			}
			if sub == "auto" && hasAck {
				t.Errorf("auto mode has an ack header %q", ack)
			}
			for k, want := range map[string]string{"destination": "/topic/a", "x-sender": "ann", "content-type": "application/json"} {
				if got := m.Header.Value(k); got != want {
					t.Errorf("%s: %s %q, want %q", sub, k, got, want)
				}
			}
			if string(m.Body) != `{"t":"x"}` {
				t.Errorf("body %q", m.Body)
			}
		}
		if ids["auto"] == ids["cli"] {
			t.Errorf("both subscriptions got message-id %q", ids["auto"])
		}
	})
}

// sessDeliver sends n messages on dest through c and returns the MESSAGEs c
// itself receives (it must be subscribed to dest once).
func sessDeliver(t *testing.T, c *sessClient, dest string, n int) []*stomp.Frame {
	t.Helper()
	var out []*stomp.Frame
	for i := range n {
		msgs, _ := c.call(stomp.CmdSend, fmt.Sprint("m", i), "destination", dest)
		if len(msgs) != 1 {
			t.Fatalf("message %d: got %d MESSAGEs", i, len(msgs))
		}
		out = append(out, msgs[0])
	}
	return out
}

func TestSessionAckClientIsCumulative(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client")
		ms := sessDeliver(t, c, "/topic/a", 4)

		c.callQuiet(stomp.CmdAck, "", "id", ms[2].Header.Value("ack"))
		if got := h.Acked(); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Fatalf("ACK of the third message acked %v, want [1 2 3]", got)
		}
		// Earlier ones are gone with it.
		c.send(stomp.CmdAck, "", "id", ms[0].Header.Value("ack"))
		c.expectError("unknown ack id")
		if got := h.Acked(); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Fatalf("acked %v after the refused ACK", got)
		}
	})
}

func TestSessionAckClientIndividual(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client-individual")
		ms := sessDeliver(t, c, "/topic/a", 4)

		c.callQuiet(stomp.CmdAck, "", "id", ms[2].Header.Value("ack"))
		c.callQuiet(stomp.CmdAck, "", "id", ms[0].Header.Value("ack"))
		c.callQuiet(stomp.CmdNack, "", "id", ms[1].Header.Value("ack"))
		if got := h.Acked(); !slices.Equal(got, []string{"3", "1"}) {
			t.Errorf("acked %v, want [3 1]", got)
		}
		if got := h.Nacked(); !slices.Equal(got, []string{"2"}) {
			t.Errorf("nacked %v, want [2]", got)
		}
		c.send(stomp.CmdAck, "", "id", ms[1].Header.Value("ack")) // already NACKed
		c.expectError("unknown ack id")
	})
}

// TestSessionAckOfSettledMessages: an ACK or NACK of a settled message is
// accepted (RECEIPT) and consumes its ack id, but reaches neither
// Handler.Ack nor Nack; a cumulative ACK passes on only the unsettled ids.
func TestSessionAckOfSettledMessages(t *testing.T) {
	for _, mode := range []string{"client", "client-individual"} {
		t.Run(mode, func(t *testing.T) {
			h := memtopic.New()
			h.Settle = func(body []byte) bool { return strings.HasPrefix(string(body), "own") }
			s := startSess(t, h, stomp.Config{})
			c := s.dial(t, "tcp")
			c.connect("ann")
			c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", mode)
			var ms []*stomp.Frame
			for _, body := range []string{"m1", "own2", "m3", "own4", "own5"} {
				msgs, _ := c.call(stomp.CmdSend, body, "destination", "/topic/a")
				if len(msgs) != 1 {
					t.Fatalf("%s: got %d MESSAGEs", body, len(msgs))
				}
				ms = append(ms, msgs[0])
			}
			c.callQuiet(stomp.CmdAck, "", "id", ms[3].Header.Value("ack"))
			want := []string{}
			if mode == "client" {
				want = []string{"1", "3"}
			}
			if got := h.Acked(); !slices.Equal(got, want) {
				t.Fatalf("ACK of a settled message acked %v, want %v", got, want)
			}
			c.callQuiet(stomp.CmdNack, "", "id", ms[4].Header.Value("ack"))
			if got := h.Nacked(); len(got) != 0 {
				t.Fatalf("NACK of a settled message nacked %v", got)
			}
			c.send(stomp.CmdAck, "", "id", ms[3].Header.Value("ack"))
			c.expectError("unknown ack id")
		})
	}
}

func TestSessionNackClientIsCumulative(t *testing.T) {
	h := memtopic.New()
	s := startSess(t, h, stomp.Config{})
	c := s.dial(t, "tcp")
	c.connect("ann")
	c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client")
	ms := sessDeliver(t, c, "/topic/a", 3)
	c.callQuiet(stomp.CmdNack, "", "id", ms[1].Header.Value("ack"))
	if got := h.Nacked(); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("nacked %v, want [1 2]", got)
	}
	if len(h.Acked()) != 0 {
		t.Errorf("acked %v", h.Acked())
	}
}

// TestSessionAckV11 uses message-id, the STOMP 1.1 way; MESSAGE has no ack.
func TestSessionAckV11(t *testing.T) {
	h := memtopic.New()
	s := startSess(t, h, stomp.Config{})
	c := s.dial(t, "tcp")
	c.connect("ann", "accept-version", "1.1")
	c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client-individual")
	m := sessDeliver(t, c, "/topic/a", 1)[0]
	if a, ok := m.Header.Get("ack"); ok {
		t.Errorf("1.1 MESSAGE has ack header %q", a)
	}
	c.callQuiet(stomp.CmdAck, "", "message-id", m.Header.Value("message-id"), "subscription", "0")
	if got := h.Acked(); !slices.Equal(got, []string{"1"}) {
		t.Errorf("acked %v, want [1]", got)
	}
}

func TestSessionAckAutoHasNothingToAck(t *testing.T) {
	h := memtopic.New()
	s := startSess(t, h, stomp.Config{MaxUnacked: 1})
	c := s.dial(t, "ws")
	c.connect("ann")
	c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
	ms := sessDeliver(t, c, "/topic/a", 3) // MaxUnacked does not count auto mode
	c.send(stomp.CmdAck, "", "id", ms[0].Header.Value("message-id"))
	c.expectError("unknown ack id")
}

func TestSessionUnsubscribeStopsDelivery(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "s1", "ack", "client")
		sessDeliver(t, c, "/topic/a", 1)
		c.callQuiet(stomp.CmdUnsubscribe, "", "id", "s1")
		if n := h.Subscribers("/topic/a"); n != 0 {
			t.Errorf("handler still has %d subscribers", n)
		}
		// The SEND is handled (receipted) and nobody gets it: a MESSAGE
		// would have been queued before the RECEIPT.
		c.callQuiet(stomp.CmdSend, "after", "destination", "/topic/a")
		// The id is free again; the old unacked message is not ackable.
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "s1", "ack", "client")
		c.send(stomp.CmdAck, "", "id", "1.1")
		c.expectError("unknown ack id")
	})
}

func TestSessionSubscriptionErrors(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{MaxSubscriptions: 2})
		c := s.dial(t, kind)
		c.connect("ann")
		c.send(stomp.CmdUnsubscribe, "", "id", "nope")
		c.expectError("unknown subscription")

		c = s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "x")
		c.send(stomp.CmdSubscribe, "", "destination", "/topic/b", "id", "x")
		c.expectError("duplicate subscription id")

		c = s.dial(t, kind)
		c.connect("ann")
		c.send(stomp.CmdSubscribe, "", "destination", "/topic/b")
		c.expectError("missing required header")

		c = s.dial(t, kind)
		c.connect("ann")
		c.send(stomp.CmdSubscribe, "", "destination", "/topic/b", "id", "1", "ack", "sometimes")
		c.expectError("protocol violation")

		c = s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "1")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/b", "id", "2")
		c.callQuiet(stomp.CmdUnsubscribe, "", "id", "1")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/c", "id", "3") // back under the limit
		c.receipt++
		c.send(stomp.CmdSubscribe, "", "destination", "/topic/d", "id", "4", "receipt", "too-many")
		f := c.expectError("too many subscriptions")
		if got := f.Header.Value("receipt-id"); got != "too-many" {
			t.Errorf("ERROR receipt-id %q, want the refused frame's receipt", got)
		}
	})
}

func TestSessionMaxUnacked(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{MaxUnacked: 3})
		sub := s.dial(t, kind)
		sub.connect("sub")
		sub.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client-individual")
		pub := s.dial(t, kind)
		pub.connect("pub")
		for i := range 3 {
			pub.callQuiet(stomp.CmdSend, fmt.Sprint(i), "destination", "/topic/a")
		}
		first := sub.expect(stomp.CmdMessage)
		sub.expect(stomp.CmdMessage)
		sub.expect(stomp.CmdMessage)
		// Acking one makes room for one more.
		sub.callQuiet(stomp.CmdAck, "", "id", first.Header.Value("ack"))
		pub.callQuiet(stomp.CmdSend, "3", "destination", "/topic/a")
		if m := sub.expect(stomp.CmdMessage); string(m.Body) != "3" {
			t.Fatalf("got message %q, want 3", m.Body)
		}
		pub.callQuiet(stomp.CmdSend, "4", "destination", "/topic/a") // the 4th unacked
		sub.expectError("too many unacknowledged messages")
		// The publisher is not affected.
		pub.callQuiet(stomp.CmdSend, "5", "destination", "/topic/a")
	})
}
