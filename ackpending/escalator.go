package ackpending

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// Config tunes the escalator.
type Config struct {
	Prefix       string        // Redis key prefix, "rcp"
	Partitions   int           // room partitions (16)
	OfflineGrace time.Duration // offline member: push once idle this long (2 s)
	AckTimeout   time.Duration // online member: push when not ACKed within (30 s)
	// OnlineRecheck bounds how long a room waits for an online member's
	// ack timeout before it is looked at again (2 s): a member who goes
	// offline meanwhile is then pushed under the offline grace.
	OnlineRecheck time.Duration
	Lease         time.Duration // how long a claim holds a room (30 s)
	Poll          time.Duration // longest sleep between claims of a partition (250 ms)
	// Coalesce is the shortest sleep before a room that is not yet due
	// (200 ms): the rooms that come due within it are claimed and swept
	// in one call each instead of one call per room, for a push at most
	// this much later.
	Coalesce   time.Duration
	Batch      int           // rooms claimed per call (16)
	Rooms      int           // rooms processed at once per node (64)
	Sends      int           // FCM requests in flight per node (100)
	Page       int           // pending entries read per member per pass (500)
	Preview    Preview       // global preview policy (sender)
	PreviewTTL time.Duration // how long a room's policy is cached (1 min)
	Retry      RetryPolicy
	// ConfigPause is how long pushes pause after a credentials or sender id
	// error (1 min): reported loudly once, not retried in a loop.
	ConfigPause time.Duration
	Logger      *slog.Logger
	Metrics     *Metrics
}

// DefaultConfig is the configuration of DESIGN.md.
func DefaultConfig() Config {
	return Config{Prefix: "rcp", Partitions: 16, OfflineGrace: 2 * time.Second, AckTimeout: 30 * time.Second,
		OnlineRecheck: 2 * time.Second,
		Lease:         30 * time.Second, Poll: 250 * time.Millisecond, Coalesce: 200 * time.Millisecond, Batch: 16, Rooms: 64, Sends: 100, Page: 500,
		Preview: PreviewSender, PreviewTTL: time.Minute, Retry: DefaultRetryPolicy(), ConfigPause: time.Minute}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	seti := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.Prefix == "" {
		c.Prefix = d.Prefix
	}
	set(&c.OfflineGrace, d.OfflineGrace)
	set(&c.AckTimeout, d.AckTimeout)
	set(&c.OnlineRecheck, d.OnlineRecheck)
	set(&c.Lease, d.Lease)
	set(&c.Poll, d.Poll)
	set(&c.Coalesce, d.Coalesce)
	set(&c.PreviewTTL, d.PreviewTTL)
	set(&c.ConfigPause, d.ConfigPause)
	seti(&c.Partitions, d.Partitions)
	seti(&c.Batch, d.Batch)
	seti(&c.Rooms, d.Rooms)
	seti(&c.Sends, d.Sends)
	seti(&c.Page, d.Page)
	if c.Preview == "" {
		c.Preview = d.Preview
	}
	if c.Retry.Attempts <= 0 {
		c.Retry = d.Retry
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	return c
}

// Escalator claims due rooms and pushes what members left pending. Every
// node runs one; they share the work through claims with leases.
type Escalator struct {
	rdb      redis.UniversalClient
	cfg      Config
	log      *slog.Logger
	m        *Metrics
	devices  *Devices
	sender   Sender
	policies *policies

	roomSlots   chan struct{}
	sendSlots   chan struct{}
	pausedUntil atomic.Int64 // Unix ms; pushes wait until then after ErrConfig
}

// NewEscalator returns an escalator on rdb (presence is read from the
// sessions keys every node's Presence writes); db holds the rooms' preview
// policies.
func NewEscalator(rdb redis.UniversalClient, db *sql.DB, d *Devices, s Sender, cfg Config) *Escalator {
	cfg = cfg.withDefaults()
	return &Escalator{rdb: rdb, cfg: cfg, log: cfg.Logger, m: cfg.Metrics, devices: d, sender: s,
		policies:  newPolicies(db, cfg.Preview, cfg.PreviewTTL),
		roomSlots: make(chan struct{}, cfg.Rooms), sendSlots: make(chan struct{}, cfg.Sends)}
}

// Metrics returns the escalator's collectors.
func (e *Escalator) Metrics() *Metrics { return e.m }

// Run claims and processes due rooms of every partition until ctx ends,
// then waits for the rooms in progress (their pushes are cancelled; what
// was accepted is still recorded and the rest rescheduled at once).
func (e *Escalator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for p := range e.cfg.Partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runPartition(ctx, broker.Keys{Prefix: e.cfg.Prefix, Partition: p}, &wg)
		}()
	}
	wg.Wait()
}

func (e *Escalator) runPartition(ctx context.Context, k broker.Keys, wg *sync.WaitGroup) {
	backoff := e.cfg.Poll
	for {
		n := e.acquire(ctx)
		if n == 0 {
			return
		}
		c, err := e.claim(ctx, k, n)
		e.release(n - len(c.rooms))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.log.Warn("escalation claim failed", "partition", k.Partition, "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = e.cfg.Poll
		kept := e.sweep(ctx, k, c)
		e.release(len(c.rooms) - len(kept))
		for _, r := range kept {
			e.m.observeLag(e.m.claimLag, time.Duration(c.now-r.due)*time.Millisecond)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer e.release(1)
				e.processRoom(ctx, k, c, r)
			}()
		}
		if len(c.rooms) == n {
			continue // more may be due
		}
		wait := e.cfg.Poll
		if c.next >= 0 {
			wait = min(wait, max(time.Duration(c.next-c.now)*time.Millisecond, e.cfg.Coalesce))
		}
		sleep(ctx, wait)
	}
}

// acquire takes at least one room slot (blocking) and up to Batch; 0 when
// ctx ended.
func (e *Escalator) acquire(ctx context.Context) int {
	select {
	case e.roomSlots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < e.cfg.Batch {
		select {
		case e.roomSlots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (e *Escalator) release(n int) {
	for range n {
		<-e.roomSlots
	}
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// claimedRoom is a room taken from the schedule and the time it was due.
type claimedRoom struct {
	room string
	due  int64
}

// claimResult is one rcpesc_claim call (times in Redis Unix ms).
type claimResult struct {
	now, leaseUntil, next int64
	rooms                 []claimedRoom
}

// claim takes up to n due rooms of a partition under a lease.
func (e *Escalator) claim(ctx context.Context, k broker.Keys, n int) (claimResult, error) {
	res, err := e.rdb.FCall(ctx, "rcpesc_claim", []string{k.Due()}, n, e.cfg.Lease.Milliseconds()).Slice()
	if err != nil {
		return claimResult{}, fmt.Errorf("claim in partition %d: %w", k.Partition, err)
	}
	if len(res) < 3 || len(res)%2 == 0 {
		return claimResult{}, fmt.Errorf("claim in partition %d: unexpected reply %v", k.Partition, res)
	}
	c := claimResult{now: asInt(res[0]), leaseUntil: asInt(res[1]), next: asInt(res[2])}
	for i := 3; i+1 < len(res); i += 2 {
		room, _ := res[i].(string)
		c.rooms = append(c.rooms, claimedRoom{room: room, due: asInt(res[i+1])})
	}
	return c, nil
}

// sweep settles in one call the claimed rooms that need no pass, the
// common case when members are online and acknowledge: nobody has a
// pending entry (the room leaves the schedule), or every pending entry is
// younger than the smaller threshold (the room comes back when the oldest
// could be due). It returns the rooms that need a pass; on an error, all
// of them.
func (e *Escalator) sweep(ctx context.Context, k broker.Keys, c claimResult) []claimedRoom {
	if len(c.rooms) == 0 {
		return nil
	}
	keys := make([]string, 1, 1+len(c.rooms))
	keys[0] = k.Due()
	args := make([]any, 2, 2+len(c.rooms))
	args[0], args[1] = c.leaseUntil, min(e.cfg.OfflineGrace, e.cfg.AckTimeout).Milliseconds()
	for _, r := range c.rooms {
		keys = append(keys, k.Room(r.room))
		args = append(args, r.room)
	}
	res, err := e.rdb.FCall(ctx, "rcpesc_sweep", keys, args...).StringSlice()
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("escalation sweep failed; every claimed room gets a pass", "partition", k.Partition, "err", err)
		}
		return c.rooms
	}
	need := make(map[string]bool, len(res))
	for _, room := range res {
		need[room] = true
	}
	kept := make([]claimedRoom, 0, len(res))
	for _, r := range c.rooms {
		if need[r.room] {
			kept = append(kept, r)
		} else {
			e.m.observeLag(e.m.claimLag, time.Duration(c.now-r.due)*time.Millisecond)
		}
	}
	e.m.swept.Add(float64(len(c.rooms) - len(kept)))
	return kept
}

func asInt(v any) int64 {
	n, _ := v.(int64)
	return n
}
