package main_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/stomp"
)

// retrySender sends numbered messages as one user and retries each, with
// its x-client-id, on a fresh connection after an ERROR or a dropped
// connection, as a mobile client would.
type retrySender struct {
	n          *node
	user, room string

	conn      *rawClient
	receipted atomic.Int64
	failures  atomic.Int64
	refusals  map[string]int // ERROR message header → count
}

func (s *retrySender) send(ctx context.Context, i int) (*stomp.Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("message %d after %d failures: %w", i, s.failures.Load(), err)
		}
		if s.conn == nil {
			c, err := s.n.rawConnectE(ctx, s.user)
			if err != nil {
				s.failed(ctx, "connect")
				continue
			}
			s.conn = c
		}
		f, err := s.conn.sendE(s.room, textBody(fmt.Sprint(i)), "x-client-id", fmt.Sprint("rr-", i))
		if err == nil && f.Command == stomp.CmdReceipt {
			s.receipted.Add(1)
			return f, nil
		}
		switch {
		case err != nil:
			s.failed(ctx, err.Error())
		default:
			s.failed(ctx, "ERROR "+f.Header.Value("message"))
		}
		s.conn.close()
		s.conn = nil
	}
}

func (s *retrySender) failed(ctx context.Context, why string) {
	s.failures.Add(1)
	s.refusals[why]++
	select {
	case <-ctx.Done():
	case <-time.After(50 * time.Millisecond):
	}
}

// run sends messages 0 … total-1 in the background. Before message i it
// waits for gates[i], if any: the fault decides when the sender goes on,
// so the sender is still busy when Redis fails, whatever the timing. It
// returns the RECEIPTs in send order.
func (s *retrySender) run(total int, gates map[int]chan struct{}) <-chan sendResult {
	done := make(chan sendResult, 1)
	go func() {
		var r sendResult
		defer func() { done <- r }()
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
		defer cancel()
		defer func() {
			if s.conn != nil {
				s.conn.close()
			}
		}()
		for i := range total {
			if g := gates[i]; g != nil {
				select {
				case <-g:
				case <-ctx.Done():
					r.err = fmt.Errorf("the gate before message %d was not opened", i)
					return
				}
			}
			f, err := s.send(ctx, i)
			if err != nil {
				r.err = err
				return
			}
			r.receipts = append(r.receipts, f)
		}
	}()
	return done
}

type sendResult struct {
	receipts []*stomp.Frame
	err      error
}

// redisFault disturbs Redis while the sender runs. The sender stops before
// each message listed in gates until the fault closes its channel.
type redisFault struct {
	gates []int
	run   func(t *testing.T, rp *redisProc, s *retrySender, open []chan struct{})
}

// restartWith stops Redis with sig, lets SENDs fail against it, and starts
// it again on the same port and AOF.
func restartWith(sig syscall.Signal) redisFault {
	return redisFault{gates: []int{40}, run: func(t *testing.T, rp *redisProc, s *retrySender, open []chan struct{}) {
		if err := rp.stop(sig); err != nil {
			t.Fatal(err)
		}
		close(open[0])
		waitFor(t, "SENDs to fail while Redis is down", func() bool { return s.failures.Load() >= 2 })
		rp.start()
	}}
}

var killGates = []int{15, 20, 25, 30, 35}

// killConnections drops every client connection of Redis (the fan-out's
// blocking feed reads included) at a few points of the burst: once while
// the sender waits at a gate, once right as it goes on.
var killConnections = redisFault{gates: killGates,
	run: func(t *testing.T, rp *redisProc, s *retrySender, open []chan struct{}) {
		rdb := redis.NewClient(&redis.Options{Addr: rp.addr})
		defer rdb.Close()
		kill := func() {
			ctx, cancel := ctxWait()
			defer cancel()
			if err := rdb.ClientKillByFilter(ctx, "TYPE", "normal", "SKIPME", "yes").Err(); err != nil {
				t.Fatalf("CLIENT KILL: %v", err)
			}
		}
		for k, g := range killGates {
			waitFor(t, fmt.Sprintf("message %d's gate", g), func() bool { return s.receipted.Load() == int64(g) })
			kill()
			close(open[k])
			kill()
		}
	}}

// TestRedisRestartUnderLoad: Redis (AOF, appendfsync always) is stopped
// (SIGTERM; SIGKILL) and restarted, or drops every connection, while a
// client keeps sending with receipts and retries. Every receipted message
// is in the stream exactly once and pending for the other member; rcpd
// survives, and its fan-out resumes where it stopped.
func TestRedisRestartUnderLoad(t *testing.T) {
	for name, fault := range map[string]redisFault{"SIGTERM": restartWith(syscall.SIGTERM),
		"SIGKILL": restartWith(syscall.SIGKILL), "CLIENT_KILL": killConnections} {
		t.Run(name, func(t *testing.T) { redisFaultUnderLoad(t, fault) })
	}
}

func redisFaultUnderLoad(t *testing.T, fault redisFault) {
	rp := startRedis(t)
	e := newEnv(t)
	e.RedisURL = rp.url()
	n := e.start()
	n.createRoom("rr1", "alice", "bob")
	bob := n.rawConnect("bob")
	bob.subscribe("s1", "rr1", "client-individual")

	const total, faultAfter = 80, 10
	gates := map[int]chan struct{}{}
	var open []chan struct{}
	for _, g := range fault.gates {
		gates[g] = make(chan struct{})
		open = append(open, gates[g])
	}
	s := &retrySender{n: n, user: "alice", room: "rr1", refusals: map[string]int{}}
	done := s.run(total, gates)
	waitFor(t, "the first receipts", func() bool { return s.receipted.Load() >= faultAfter })
	fault.run(t, rp, s, open)
	r := <-done
	if r.err != nil {
		t.Fatalf("sender: %v\nrcpd log:\n%s", r.err, n.Log)
	}
	for why := range s.refusals {
		if why != "ERROR service temporarily unavailable" && why != errConnClosed.Error() {
			t.Fatalf("unexpected failure under the Redis fault: %q (all: %v)", why, s.refusals)
		}
	}
	want := checkStreamAfterRestart(t, e.ledger(), r.receipts, total)

	// rcpd survived, and bob's live subscription got everything in order:
	// the fan-out resumed from where it stopped (after its reconnect
	// backoff, up to 2 s, and go-redis's dial retries).
	if got := streamIDs(bob.nextNWithin(total, 15*time.Second)); !slices.Equal(got, want) {
		t.Fatalf("live delivery across the restart:\n got  %v\n want %v", got, want)
	}
	select {
	case <-n.Done:
		t.Fatalf("rcpd exited:\n%s", n.Log)
	default:
	}
	waitFor(t, "/readyz 200 after the restart", func() bool { return n.readyz() == http.StatusOK })

	bob.close()
	bob2 := n.rawConnect("bob")
	bob2.subscribe("s1", "rr1", "client-individual")
	if got := streamIDs(bob2.nextN(total)); !slices.Equal(got, want) {
		t.Fatalf("backlog after the restart:\n got  %v\n want %v", got, want)
	}
	alice := n.rawConnect("alice")
	live := sendText(t, alice, "rr1", "live after the restart")
	expectMessage(t, bob2.next(), live, "alice", "rr1")
	t.Logf("%d receipted across the fault; failures: %v", total, s.refusals)
}

// checkStreamAfterRestart: the stream holds each receipted message once, in
// order, with its client id; bob has them all pending, alice none. It
// returns the receipted ids.
func checkStreamAfterRestart(t *testing.T, l *ledger, receipts []*stomp.Frame, total int) []string {
	t.Helper()
	var want []string
	for i, f := range receipts {
		if f.Header.Value("x-seq") != fmt.Sprint(i+1) {
			t.Fatalf("message %d receipted with x-seq %s", i, f.Header.Value("x-seq"))
		}
		want = append(want, f.Header.Value("x-stream-id"))
	}
	entries := l.entries("rr1")
	for i, m := range entries {
		if i >= total || m.ID != want[i] || m.Values["c"] != fmt.Sprint("rr-", i) || m.Values["n"] != fmt.Sprint(i+1) ||
			m.Values["b"] != storedText(fmt.Sprint(i)) {
			t.Fatalf("stream entry %d %s %v; receipted %s", i, m.ID, m.Values, want[min(i, total-1)])
		}
	}
	if len(entries) != total {
		t.Fatalf("stream holds %d entries, want %d", len(entries), total)
	}
	l.waitPending("rr1", "bob", want)
	l.waitPending("rr1", "alice", []string{})
	return want
}

// waitFor polls cond until it holds, for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readyz returns the status of GET /readyz (0 if it did not answer).
func (n *node) readyz() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + n.Addr + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
