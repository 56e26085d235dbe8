package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// logf prints a progress line on stderr unless --quiet.
func (c *config) logf(format string, args ...any) {
	if !c.Quiet {
		fmt.Fprintf(os.Stderr, "rcpbench: "+format+"\n", args...)
	}
}

// bench runs one scenario: setup, hold, send, drain, disconnect.
func bench(ctx context.Context, c *config) (*report, error) {
	p, err := newProbe(ctx, c.RedisURL, c.Pids)
	if err != nil {
		return nil, err
	}
	defer p.close()
	t := newTracker(c.budget(), c.Rooms)
	t0 := time.Now()
	clients, before, err := setup(ctx, c, t, p)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			disconnectAll(c, clients)
		}
	}()
	rep := &report{SetupSeconds: time.Since(t0).Seconds()}
	if c.Hold > 0 {
		c.logf("holding %d idle connections for %s", len(clients), c.Hold)
		if err := sleepCtx(ctx, c.Hold); err != nil {
			return nil, err
		}
	}
	connected, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	senders := sendersOf(c, clients)
	start, end := int64(0), int64(0)
	if c.Duration > 0 && len(senders) > 0 {
		c.logf("sending from %d connections for %s", len(senders), c.Duration)
		peak, stopPeak := samplePeakRSS(p)
		start, end = sendPhase(ctx, c, t, senders)
		drain(ctx, c, t)
		stopPeak()
		rep.PeakRSS = peak
	}
	last, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	// The counts are those at the end of the grace period, before the
	// DISCONNECTs let late receipts in.
	rep.fill(c, t, start, end, len(senders))
	rep.Resources = newResources(before, connected, last, len(clients), rep.Delivered)
	rep.ConnsClosed, closed = disconnectAll(c, clients), true
	return rep, nil
}

// setup creates the rooms, samples the probe, then connects and subscribes
// every member slot.
func setup(ctx context.Context, c *config, t *tracker, p *probe) ([]*client, sample, error) {
	ctx, cancel := context.WithTimeout(ctx, c.SetupTimeout)
	defer cancel()
	t0 := time.Now()
	if err := createRooms(ctx, c); err != nil {
		return nil, sample{}, err
	}
	c.logf("created %d rooms × %d members in %s", c.Rooms, c.Members, time.Since(t0).Round(time.Millisecond))
	before, err := p.take(ctx)
	if err != nil {
		return nil, before, err
	}
	t1 := time.Now()
	clients, err := connectAll(ctx, c, t)
	if err != nil {
		return nil, before, err
	}
	c.logf("%d connections subscribed in %s", len(clients), time.Since(t1).Round(time.Millisecond))
	return clients, before, nil
}

func sendersOf(c *config, clients []*client) []*client {
	var senders []*client
	for _, cl := range clients {
		if _, m := c.slot(cl.idx); m < c.SendersPerRoom {
			senders = append(senders, cl)
		}
	}
	return senders
}

// drain waits up to the grace period for the receipts and deliveries still
// due.
func drain(ctx context.Context, c *config, t *tracker) {
	deadline := time.Now().Add(c.Grace)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r, d := t.outstanding(c.Receipts)
		if r == 0 && d == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// disconnectAll ends every connection with DISCONNECT and its receipt (so
// every ACK has been handled) and counts the connections that had closed
// before, or did not answer within 10 s.
func disconnectAll(c *config, clients []*client) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := make([]bool, len(clients))
	forEach(ctx, len(clients), c.DialConcurrency, func(ctx context.Context, i int) error {
		failed[i] = clients[i].disconnect(ctx) != nil
		return nil
	})
	n := 0
	for _, f := range failed {
		if f {
			n++
		}
	}
	return n
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the command: parse flags, bench, print the report.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	if c.ImageBytes > 0 {
		if c.images, err = newImageBodies(c.ImageBytes); err != nil {
			return err
		}
		c.logf("images of %d bytes (%d bytes of base64)", c.images.size, len(c.images.prefix))
	}
	if c.Uploads > 0 {
		return runUploads(ctx, &c, stdout)
	}
	rep, err := bench(ctx, &c)
	if err != nil {
		return err
	}
	return rep.print(stdout)
}
