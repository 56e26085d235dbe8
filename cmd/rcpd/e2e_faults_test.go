package main_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/stomp"
)

// TestIdempotentSendWithClientID: a SEND retried with the same x-client-id,
// on the same connection or another node, gets the same x-stream-id and
// x-seq and writes one entry.
func TestIdempotentSendWithClientID(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.start(), e.start()
	n1.createRoom("idem1", "alice", "bob")
	n1.createRoom("idem2", "alice", "bob")
	l := e.ledger()
	bob := n2.rawConnect("bob")
	bob.subscribe("s1", "idem1", "client-individual")
	alice := n1.rawConnect("alice")

	first := sendText(t, alice, "idem1", "once", "x-client-id", "c-1")
	again := sendText(t, alice, "idem1", "once", "x-client-id", "c-1")
	other := n2.rawConnect("alice")
	third := sendText(t, other, "idem1", "once", "x-client-id", "c-1")
	if again != first || third != first {
		t.Fatalf("retries of c-1 got %+v and %+v, first %+v", again, third, first)
	}
	if got := l.xlen("idem1"); got != 1 {
		t.Fatalf("XLEN after three SENDs of c-1: %d, want 1", got)
	}
	next := sendText(t, alice, "idem1", "twice", "x-client-id", "c-2")
	if next.seq != "2" || next.id == first.id {
		t.Fatalf("c-2 got %+v after %+v", next, first)
	}
	// The client id is scoped to the room.
	elsewhere := sendText(t, alice, "idem2", "once", "x-client-id", "c-1")
	if elsewhere.seq != "1" || l.xlen("idem2") != 1 {
		t.Fatalf("c-1 in idem2 got %+v, XLEN %d", elsewhere, l.xlen("idem2"))
	}
	// bob got c-1 once, then c-2.
	expectMessages(t, bob.nextN(2), []sent{first, next}, "alice", "idem1")
	l.waitPending("idem1", "bob", ids(first, next))
	entries := l.entries("idem1")
	if len(entries) != 2 || entries[0].Values["c"] != "c-1" || entries[1].Values["c"] != "c-2" {
		t.Fatalf("stream entries %v", entries)
	}
}

// burst sends messages 0 … total-1 as alice on n, each receipted, in the
// background. Before message i it waits for gates[i], if any, so a fault
// lands mid-burst whatever the timing. receipted counts the RECEIPTs.
func burst(n *node, room string, total int, gates map[int]<-chan struct{}, receipted *atomic.Int64) <-chan sendIDs {
	done := make(chan sendIDs, 1)
	go func() {
		var r sendIDs
		defer func() { done <- r }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		alice, err := n.rawConnectE(ctx, "alice")
		if err != nil {
			r.err = err
			return
		}
		defer alice.close()
		for i := range total {
			if g := gates[i]; g != nil {
				select {
				case <-g:
				case <-ctx.Done():
					r.err = fmt.Errorf("gate before message %d not opened", i)
					return
				}
			}
			f, err := alice.sendE(room, textBody(fmt.Sprint(i)), "x-client-id", fmt.Sprint("k-", i))
			if err == nil && f.Command != stomp.CmdReceipt {
				err = fmt.Errorf("%s %q: %s", f.Command, f.Header.Value("message"), f.Body)
			}
			if err != nil {
				r.err = fmt.Errorf("SEND %d: %w", i, err)
				return
			}
			r.ids = append(r.ids, f.Header.Value("x-stream-id"))
			receipted.Add(1)
		}
	}()
	return done
}

type sendIDs struct {
	ids []string
	err error
}

// TestKilledNodeLosesNothing: node B is SIGKILLed while it fans out a burst
// of receipted SENDs made on node A. The subscriber reconnects to A while
// the burst goes on: it gets its backlog (everything it did not
// acknowledge), then the live rest, with no gap and no duplicate; delivered
// before the kill ∪ after the reconnect ⊇ receipted.
func TestKilledNodeLosesNothing(t *testing.T) {
	e := newEnv(t)
	a, b := e.start(), e.start()
	a.createRoom("kill1", "alice", "bob")
	l := e.ledger()
	bob := b.rawConnect("bob")
	bob.subscribe("s1", "kill1", "client-individual")

	// total < the per-connection SEND burst (100); the kill comes once bob
	// has killAfter messages and before message killGate is sent; bob
	// resubscribes on A before message resubGate is sent.
	const total, killAfter, killGate, resubGate = 90, 20, 50, 70
	killed, resubscribing := make(chan struct{}), make(chan struct{})
	var receipted atomic.Int64
	done := burst(a, "kill1", total, map[int]<-chan struct{}{killGate: killed, resubGate: resubscribing}, &receipted)

	var before []*stomp.Frame
	for len(before) < killAfter {
		m := bob.next()
		before = append(before, m)
		if err := bob.ackAsyncE(m); err != nil {
			t.Fatal(err)
		}
	}
	b.Kill(syscall.SIGKILL)
	close(killed)
	before = append(before, bob.drain(frameWait)...)
	if err := bob.closedE(frameWait); err != nil {
		t.Fatalf("bob's connection to the killed node: %v", err)
	}
	if len(before) >= killGate {
		t.Fatalf("bob got %d messages before the kill, only %d were sent", len(before), killGate)
	}

	waitFor(t, "the messages before the second gate", func() bool { return receipted.Load() == resubGate })
	backlog := l.pending("kill1", "bob")
	bob2 := a.rawConnect("bob")
	close(resubscribing) // the rest of the burst races the replay
	bob2.subscribe("s1", "kill1", "client-individual")
	r := <-done
	if r.err != nil {
		t.Fatalf("sender: %v\nnode A log:\n%s", r.err, a.Log)
	}
	want := append(backlog, r.ids[resubGate:]...)
	after := bob2.nextN(len(want))
	if got := streamIDs(after); !slices.Equal(got, want) {
		t.Fatalf("after the reconnect bob got\n %v\nwant the backlog then the live rest\n %v", got, want)
	}
	checkDelivered(t, r.ids, append(before, after...))
	alice := a.rawConnect("alice")
	last := sendText(t, alice, "kill1", "after the kill")
	expectMessage(t, bob2.next(), last, "alice", "kill1") // nothing else came first
	t.Logf("receipted %d; bob got %d before the kill, %d backlog + %d live after it",
		len(r.ids), len(before), len(backlog), total-resubGate)
}

// checkDelivered: every receipted id (message i has text i) is among the
// delivered MESSAGEs, and every delivered MESSAGE is a receipted one.
func checkDelivered(t *testing.T, receipted []string, delivered []*stomp.Frame) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range delivered {
		id := m.Header.Value("x-stream-id")
		i := slices.Index(receipted, id)
		if i < 0 || string(m.Body) != storedText(fmt.Sprint(i)) {
			t.Fatalf("delivered %v %s is not a receipted message", m.Header, m.Body)
		}
		seen[id] = true
	}
	for i, id := range receipted {
		if !seen[id] {
			t.Fatalf("receipted message %d (%s) was never delivered", i, id)
		}
	}
}

// TestRedisConnectionDropsNeverDuplicate: while every Redis connection is
// killed again and again, SENDs without x-client-id go on. A SEND may fail
// (the client decides whether to retry), but one SEND frame never stores
// two entries: rcpd must not resend rcp_send on its own after the reply
// was lost.
func TestRedisConnectionDropsNeverDuplicate(t *testing.T) {
	rp := startRedis(t)
	e := newEnv(t)
	e.RedisURL = rp.url()
	n := e.start()
	n.createRoom("dup1", "alice", "bob")
	stop := make(chan struct{})
	kills := make(chan int, 1)
	go killClientsUntil(rp.addr, stop, kills)

	const attempts, perConn = 120, 90 // perConn < the per-connection SEND burst (100)
	receipted, failed := map[string]string{}, 0
	var c *rawClient
	deadline := time.Now().Add(30 * time.Second)
	for i := range attempts {
		if time.Now().After(deadline) {
			t.Fatalf("only %d SENDs within 30s", i)
		}
		if c == nil || i%perConn == 0 {
			if c != nil {
				c.close()
			}
			c = n.rawConnect("alice")
		}
		f, err := c.sendE("dup1", textBody(fmt.Sprint(i)))
		switch {
		case err == nil && f.Command == stomp.CmdReceipt:
			receipted[f.Header.Value("x-stream-id")] = fmt.Sprint(i)
		case err == nil && f.Header.Value("message") != "service temporarily unavailable":
			t.Fatalf("SEND %d: %s %q: %s", i, f.Command, f.Header.Value("message"), f.Body)
		default:
			failed++
			c.close()
			c = nil
		}
	}
	close(stop)
	checkOneEntryPerSend(t, e.ledger(), "dup1", receipted)
	t.Logf("%d SENDs under %d CLIENT KILLs: %d receipted, %d failed", attempts, <-kills, len(receipted), failed)
}

// killClientsUntil runs CLIENT KILL TYPE normal every 5 ms until stop is
// closed, then reports how many it ran.
func killClientsUntil(addr string, stop <-chan struct{}, kills chan<- int) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	n := 0
	defer func() { kills <- n }()
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		ctx, cancel := ctxWait()
		if rdb.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Err() == nil {
			n++
		}
		cancel()
	}
}

// checkOneEntryPerSend: no body (each SEND had its own) is stored twice,
// and every receipted id holds its body.
func checkOneEntryPerSend(t *testing.T, l *ledger, room string, receipted map[string]string) {
	t.Helper()
	entries := l.entries(room)
	seen := map[any]string{}
	for _, m := range entries {
		if first, dup := seen[m.Values["b"]]; dup {
			t.Fatalf("one SEND stored twice: %s and %s both hold %s (%d entries, %d receipted)",
				first, m.ID, m.Values["b"], len(entries), len(receipted))
		}
		seen[m.Values["b"]] = m.ID
	}
	for id, text := range receipted {
		if seen[storedText(text)] != id {
			t.Fatalf("receipted %s (%s) is not in the stream under that id", id, text)
		}
	}
}
