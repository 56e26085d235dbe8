package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
)

func TestAckWaitSharesPipelinesAndWaits(t *testing.T) {
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
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			errs[r] = a.AckWait(wctx, fmt.Sprintf("r%d", r), "bob", ids[r][0], ids[r][2])
		}()
	}
	wg.Wait()
	for r := range rooms {
		// AckWait returned: the XACK has run, no polling needed.
		if got := pendingIDs(t, b, fmt.Sprintf("r%d", r), "bob"); errs[r] != nil || len(got) != 1 || got[0] != ids[r][1] {
			t.Fatalf("room r%d: err %v, pending %v, want [%s]", r, errs[r], got, ids[r][1])
		}
	}
}

func TestAckWaitIsBoundedByItsContext(t *testing.T) {
	b := newBroker(t)
	a := b.NewAcker() // not running: nothing flushes
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.AckWait(ctx, "r1", "bob", "1-0"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AckWait without Run: %v", err)
	}
	if err := a.AckWait(ctx, "r1", "bob"); err != nil {
		t.Fatalf("AckWait of no ids: %v", err)
	}
}
