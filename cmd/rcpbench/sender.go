package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
	"time"
)

// sendPhase runs every sender until the duration is over or the message
// budget is spent, and returns when the send phase started and ended
// (tracker time).
func sendPhase(ctx context.Context, c *config, t *tracker, senders []*client) (start, end int64) {
	if stop := startProfile(c); stop != nil {
		defer stop()
	}
	start = t.now() + int64(10*time.Millisecond)
	deadline := start + int64(c.Duration)
	var wg sync.WaitGroup
	for s, cl := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := senderLoop(ctx, c, t, cl, s, len(senders), start, deadline); err != nil {
				t.error(fmt.Sprintf("sender stopped: %v", err))
			}
		}()
	}
	wg.Wait()
	return start, t.now()
}

// senderLoop paces one connection open-loop: its k-th SEND is due at
// start + (s + k·n)/rate, so the n senders together offer rate SENDs per
// second, evenly spread. A sender that falls behind (full window) sends as
// soon as it can; how late is the lag histogram. With rate 0 it sends
// whenever the window has room.
func senderLoop(ctx context.Context, c *config, t *tracker, cl *client, s, n int, start, deadline int64) error {
	for k := 0; ; k++ {
		var due int64
		if c.Rate > 0 {
			due = start + int64(float64(s+k*n)*1e9/c.Rate)
			if due >= deadline {
				return nil
			}
			if err := sleepUntil(ctx, t, due); err != nil {
				return nil
			}
		} else if t.now() >= deadline {
			return nil
		}
		if c.Receipts {
			if err := cl.acquire(ctx); err != nil {
				return ignoreCancel(err)
			}
		}
		id, ok := t.take(cl.room)
		if !ok {
			return nil
		}
		now := max(t.now(), 1)
		if c.Rate > 0 {
			t.lag.record(time.Duration(now - due))
		}
		t.msgs[id].sentNs.Store(now)
		body := makeBody(id, now, c.Size)
		if c.images != nil {
			body = c.images.body(id, now)
		}
		if err := cl.send(c.dest(cl.room), body, id, c.Receipts); err != nil {
			t.msgs[id].sentNs.Store(0)
			return err
		}
		t.markSent(id)
	}
}

// startProfile starts --cpuprofile, if set; failures are reported and
// ignored: the profile is a diagnostic.
func startProfile(c *config) func() {
	if c.CPUProfile == "" {
		return nil
	}
	f, err := os.Create(c.CPUProfile)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		c.logf("cpu profile: %v", err)
		return nil
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func sleepUntil(ctx context.Context, t *tracker, due int64) error {
	d := time.Duration(due - t.now())
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func ignoreCancel(err error) error {
	if err == context.Canceled || err == context.DeadlineExceeded {
		return nil
	}
	return err
}
