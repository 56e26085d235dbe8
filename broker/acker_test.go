package broker_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// ackNow acknowledges through a running Acker and waits for the result.
func ackNow(ctx context.Context, a *broker.Acker, room, user string, ids ...string) error {
	done := make(chan error, 1)
	a.AckAsync(ctx, room, user, ids, func(err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("no result within 5s")
	}
}

func TestAckAsyncSharesPipelines(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	const rooms = 20
	ids := make([][]string, rooms)
	for r := range rooms {
		room := fmt.Sprintf("r%d", r)
		mustJoin(t, b, room, "alice", "bob")
		for i := 0; i < 3; i++ {
			res, err := b.Send(ctx, broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(`{"type":"text","text":"x"}`)})
			if err != nil {
				t.Fatal(err)
			}
			ids[r] = append(ids[r], res.ID)
		}
	}
	a := b.NewAcker()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Run(runCtx)

	var wg sync.WaitGroup
	errs := make([]error, rooms)
	for r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[r] = ackNow(ctx, a, fmt.Sprintf("r%d", r), "bob", ids[r][0], ids[r][2])
		}()
	}
	wg.Wait()
	for r := range rooms {
		// done was called: the XACK has run, no polling needed.
		if got := pendingIDs(t, b, fmt.Sprintf("r%d", r), "bob"); errs[r] != nil || len(got) != 1 || got[0] != ids[r][1] {
			t.Fatalf("room r%d: err %v, pending %v, want [%s]", r, errs[r], got, ids[r][1])
		}
	}
}

// TestAckAsyncIsBoundedByItsContext: with the queue full, AckAsync gives up
// when its context ends and says so (the entries stay pending).
func TestAckAsyncIsBoundedByItsContext(t *testing.T) {
	b := newBroker(t)
	a := b.NewAcker() // not running: nothing drains the queue
	for range 4096 {
		a.AckAsync(t.Context(), "r1", "bob", []string{"1-0"}, func(error) {})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ackNow(ctx, a, "r1", "bob", "1-0"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AckAsync on a full queue: %v", err)
	}
	if err := ackNow(ctx, a, "r1", "bob"); err != nil {
		t.Fatalf("AckAsync of no ids: %v", err)
	}
}

// xackCounter counts the XACK commands the client sends in pipelines.
type xackCounter struct{ n atomic.Int32 }

func (h *xackCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *xackCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *xackCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if c.Name() == "xack" {
				h.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// TestAckAsyncMergesAMembersAcks: ACKs queued together run as one XACK per
// (room, member), and each caller hears of its own.
func TestAckAsyncMergesAMembersAcks(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r1", "alice", "bob", "carol")
	var ids []string
	for range 5 {
		res, err := b.Send(ctx, broker.SendRequest{Room: "r1", Sender: "alice", Type: "text", Body: []byte(`{"type":"text","text":"x"}`)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	count := &xackCounter{}
	b.Redis().AddHook(count)

	a := b.NewAcker() // queued before Run starts: one batch
	done := make(chan error, 4)
	report := func(err error) { done <- err }
	a.AckAsync(ctx, "r1", "bob", ids[0:1], report)
	a.AckAsync(ctx, "r1", "carol", ids[0:1], report)
	a.AckAsync(ctx, "r1", "bob", ids[1:3], report)
	a.AckAsync(ctx, "r1", "bob", ids[1:2], report) // again: no effect, no error
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Run(runCtx)
	for range 4 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("an ACK never completed")
		}
	}
	if n := count.n.Load(); n != 2 {
		t.Errorf("%d XACK commands, want 2 (one for bob, one for carol)", n)
	}
	if got := pendingIDs(t, b, "r1", "bob"); !slices.Equal(got, ids[3:]) {
		t.Errorf("bob pending %v, want %v", got, ids[3:])
	}
	if got := pendingIDs(t, b, "r1", "carol"); !slices.Equal(got, ids[1:]) {
		t.Errorf("carol pending %v, want %v", got, ids[1:])
	}
}
