package stomp_test

import (
	"slices"
	"testing"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

// The transaction tests publish and subscribe on one connection: memtopic
// delivers during SEND, before the RECEIPT is queued, so "no MESSAGE before
// the RECEIPT" proves the SEND was not applied.

func TestSessionTransactionSendOnCommit(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t1")
		c.callQuiet(stomp.CmdSend, "a", "destination", "/topic/a", "transaction", "t1")
		c.callQuiet(stomp.CmdSend, "b", "destination", "/topic/a", "transaction", "t1")
		// Outside the transaction: immediate.
		msgs, _ := c.call(stomp.CmdSend, "now", "destination", "/topic/a")
		if got := sessBodies(msgs); !slices.Equal(got, []string{"now"}) {
			t.Fatalf("before COMMIT got %q, want only the non-transactional message", got)
		}
		msgs, _ = c.call(stomp.CmdCommit, "", "transaction", "t1")
		if got := sessBodies(msgs); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("COMMIT delivered %q, want [a b] in order", got)
		}
		// The transaction is over.
		c.send(stomp.CmdCommit, "", "transaction", "t1")
		c.expectError("unknown transaction")
	})
}

func TestSessionTransactionAbortDiscards(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client-individual")
		m := sessDeliver(t, c, "/topic/a", 1)[0]

		c.callQuiet(stomp.CmdBegin, "", "transaction", "t1")
		c.callQuiet(stomp.CmdSend, "discarded", "destination", "/topic/a", "transaction", "t1")
		c.callQuiet(stomp.CmdAck, "", "id", m.Header.Value("ack"), "transaction", "t1")
		c.callQuiet(stomp.CmdAbort, "", "transaction", "t1")
		if got := h.Acked(); len(got) != 0 {
			t.Fatalf("aborted ACK acked %v", got)
		}
		// Nothing was sent: the next message gets the next id and is the
		// only one delivered.
		msgs, r := c.call(stomp.CmdSend, "kept", "destination", "/topic/a")
		if got := sessBodies(msgs); !slices.Equal(got, []string{"kept"}) {
			t.Fatalf("after ABORT got %q, want [kept]", got)
		}
		if id := r.Header.Value("x-message-id"); id != "2" {
			t.Errorf("x-message-id %q, want 2: the aborted SEND reached the handler", id)
		}
		// The message is still unacked and the transaction id is free again.
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t1")
		c.callQuiet(stomp.CmdAck, "", "id", m.Header.Value("ack"))
		if got := h.Acked(); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("acked %v, want [1]", got)
		}
		c.send(stomp.CmdAbort, "", "transaction", "t9")
		c.expectError("unknown transaction")
	})
}

func TestSessionTransactionAckOnCommit(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0", "ack", "client-individual")
		ms := sessDeliver(t, c, "/topic/a", 3)
		c.callQuiet(stomp.CmdBegin, "", "transaction", "tx")
		c.callQuiet(stomp.CmdAck, "", "id", ms[2].Header.Value("ack"), "transaction", "tx")
		c.callQuiet(stomp.CmdNack, "", "id", ms[0].Header.Value("ack"), "transaction", "tx")
		if len(h.Acked())+len(h.Nacked()) != 0 {
			t.Fatalf("before COMMIT: acked %v nacked %v", h.Acked(), h.Nacked())
		}
		c.callQuiet(stomp.CmdCommit, "", "transaction", "tx")
		if got := h.Acked(); !slices.Equal(got, []string{"3"}) {
			t.Errorf("acked %v, want [3]", got)
		}
		if got := h.Nacked(); !slices.Equal(got, []string{"1"}) {
			t.Errorf("nacked %v, want [1]", got)
		}
	})
}

func TestSessionTransactionErrors(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.send(stomp.CmdSend, "x", "destination", "/topic/a", "transaction", "never-begun")
		c.expectError("unknown transaction")

		c = s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t")
		c.send(stomp.CmdBegin, "", "transaction", "t")
		c.expectError("transaction already open")

		c = s.dial(t, kind)
		c.connect("ann")
		c.send(stomp.CmdBegin, "")
		c.expectError("missing required header")

		// An ACK that turns out unknown fails at COMMIT, not before.
		c = s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t")
		c.callQuiet(stomp.CmdAck, "", "id", "9.9", "transaction", "t")
		c.send(stomp.CmdCommit, "", "transaction", "t")
		c.expectError("unknown ack id")
	})
}

func TestSessionMaxTxFrames(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{MaxTxFrames: 3})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "t")
		for range 3 {
			c.callQuiet(stomp.CmdSend, "x", "destination", "/topic/a", "transaction", "t")
		}
		c.send(stomp.CmdSend, "x", "destination", "/topic/a", "transaction", "t")
		c.expectError("too many open transactions or frames in one")
	})
}

func TestSessionMaxTransactions(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{MaxTransactions: 2})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "a")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "b")
		c.callQuiet(stomp.CmdCommit, "", "transaction", "a")
		c.callQuiet(stomp.CmdBegin, "", "transaction", "c") // a is closed: room for c
		c.send(stomp.CmdBegin, "", "transaction", "d")
		c.expectError("too many open transactions or frames in one")
	})
}
