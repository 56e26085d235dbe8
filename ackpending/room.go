package ackpending

import (
	"context"
	"fmt"
	"time"

	"github.com/rcp/rcp/broker"
)

// pendingEntry is one entry of a member's PEL as XPENDING shows it.
type pendingEntry struct {
	id               string
	idle, deliveries int64
}

// memberScan is one member's part of a room scan.
type memberScan struct {
	user     string
	total    int64 // entries pending
	cursor   string
	nextIdle int64 // idle of the first entry after those listed; -1 none, -2 page full
	entries  []pendingEntry
}

// scanResult is one rcpesc_scan call.
type scanResult struct {
	now     int64     // Redis time, Unix ms
	local   time.Time // local time when the reply arrived
	head    string    // the room's newest id when scanned
	members []memberScan
}

// at converts a local time to the Redis clock of the scan.
func (s scanResult) at(t time.Time) int64 { return s.now + t.Sub(s.local).Milliseconds() }

// outcome is what became of a job.
type outcome int

const (
	outcomeNone    outcome = iota // nothing to send: only the cursor moves
	outcomePushed                 // a device accepted: bump and move the cursor
	outcomeSkipped                // no device took it for good: move the cursor
	outcomeRetry                  // try again at retryAt
)

// job is one member's escalation in a room pass.
type job struct {
	user    string
	total   int64
	thr     time.Duration // offline grace or ack timeout
	ids     []string      // entries to announce (delivery count 1, idle >= thr)
	cursor  string        // newest entry decided on
	dueAt   int64         // when the oldest of ids became due (Redis ms)
	minIdle int64         // idle of the youngest of ids at the scan: the bump's guard
	outcome outcome
	retryAt int64
}

// processRoom is one pass over a claimed room: scan the members' ledgers,
// decide, push, record and reschedule.
func (e *Escalator) processRoom(ctx context.Context, k broker.Keys, c claimResult, r claimedRoom) {
	e.m.rooms.Inc()
	rctx, cancel := context.WithTimeout(ctx, e.cfg.Lease/2)
	defer cancel()
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer fcancel()
	policy := make(chan Preview, 1)
	go func() { policy <- e.policies.orDefault(rctx, r.room, e.log) }()
	sc, err := e.scan(rctx, k, r.room)
	var lk lookup
	if err == nil {
		lk, err = e.lookup(rctx, k, r.room, sc)
	}
	if err == nil {
		jobs, next := e.plan(sc, lk.online)
		e.push(rctx, r.room, sc, jobs, lk, <-policy)
		err = e.finish(fctx, k, r.room, c, sc, jobs, next)
	}
	if err != nil {
		e.log.Warn("escalation pass failed; room retried in a second", "room", r.room, "err", err)
		e.reschedule(fctx, k, r.room, c, time.Now().Add(time.Second).UnixMilli())
	}
}

// scan reads the ledger of every member of room (rcpesc_scan).
func (e *Escalator) scan(ctx context.Context, k broker.Keys, room string) (scanResult, error) {
	minIdle := min(e.cfg.OfflineGrace, e.cfg.AckTimeout).Milliseconds()
	keys := []string{k.Room(room), k.Members(room), k.Heads(), PushedKey(k, room)}
	res, err := e.rdb.FCall(ctx, "rcpesc_scan", keys, room, minIdle, e.cfg.Page).Slice()
	if err != nil {
		return scanResult{}, fmt.Errorf("scan %s: %w", room, err)
	}
	if len(res) < 2 {
		return scanResult{}, fmt.Errorf("scan %s: unexpected reply %v", room, res)
	}
	sc := scanResult{now: asInt(res[0]), local: time.Now()}
	sc.head, _ = res[1].(string)
	for _, row := range res[2:] {
		f, _ := row.([]any)
		if len(f) < 4 {
			return scanResult{}, fmt.Errorf("scan %s: unexpected row %v", room, row)
		}
		m := memberScan{total: asInt(f[1]), nextIdle: asInt(f[3])}
		m.user, _ = f[0].(string)
		m.cursor, _ = f[2].(string)
		for i := 4; i+2 < len(f); i += 3 {
			id, _ := f[i].(string)
			m.entries = append(m.entries, pendingEntry{id: id, idle: asInt(f[i+1]), deliveries: asInt(f[i+2])})
		}
		sc.members = append(sc.members, m)
	}
	return sc, nil
}

// plan decides per member: offline and idle >= offline grace, or online
// and idle >= ack timeout, for entries never pushed (delivery count 1).
// It returns the members with something to do and when the room is next
// due (-1: nothing left that could become due).
func (e *Escalator) plan(sc scanResult, online map[string]bool) ([]*job, int64) {
	var jobs []*job
	next := int64(-1)
	for _, m := range sc.members {
		thr := e.cfg.OfflineGrace
		if online[m.user] {
			thr = e.cfg.AckTimeout
		}
		j, at := decide(sc.now, m, thr)
		if online[m.user] && at >= 0 {
			at = min(at, sc.now+e.cfg.OnlineRecheck.Milliseconds()) // in case the member goes offline
		}
		next = earliest(next, at)
		if j.cursor != "" {
			jobs = append(jobs, j)
		}
	}
	return jobs, next
}

// decide: when one entry never pushed (delivery count 1) is idle >= thr,
// every such entry listed is announced in one push (an offline member's
// burst collapses into one notification instead of one per grace window).
// Otherwise the oldest such entry tells when the member is due; entries
// pushed before are passed over (the cursor moves past them).
func decide(now int64, m memberScan, thr time.Duration) (*job, int64) {
	j := &job{user: m.user, total: m.total, thr: thr}
	t := thr.Milliseconds()
	var fresh []pendingEntry
	for _, en := range m.entries {
		if en.deliveries < 2 {
			fresh = append(fresh, en)
		} else if len(fresh) == 0 {
			j.cursor = en.id
		}
	}
	if len(fresh) > 0 && fresh[0].idle >= t {
		j.dueAt = now - fresh[0].idle + t
		for _, en := range fresh {
			j.ids = append(j.ids, en.id)
		}
		j.minIdle = fresh[len(fresh)-1].idle
		j.cursor = m.entries[len(m.entries)-1].id
		if m.nextIdle == -2 {
			return j, now // a full page: look again at once
		}
		return j, -1
	}
	switch {
	case len(fresh) > 0:
		return j, now + t - fresh[0].idle
	case m.nextIdle == -2:
		return j, now
	case m.nextIdle >= 0:
		return j, now + max(t-m.nextIdle, 0)
	}
	return j, -1
}

// earliest of two schedule times, -1 meaning none.
func earliest(a, b int64) int64 {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// finish records the pass with rcpesc_done: bumps, cursors, reschedule.
func (e *Escalator) finish(ctx context.Context, k broker.Keys, room string, c claimResult, sc scanResult, jobs []*job, next int64) error {
	args := []any{room, c.leaseUntil, sc.head, sc.now + e.cfg.OfflineGrace.Milliseconds(), 0}
	notified := 0
	for _, j := range jobs {
		switch j.outcome {
		case outcomePushed:
			notified++
			args = append(args, j.user, j.minIdle, 2, j.cursor, len(j.ids))
			for _, id := range j.ids {
				args = append(args, id)
			}
		case outcomeNone, outcomeSkipped:
			args = append(args, j.user, 0, 2, j.cursor, 0)
		case outcomeRetry:
			next = earliest(next, j.retryAt)
		}
	}
	args[4] = next
	keys := []string{k.Room(room), PushedKey(k, room), k.Due(), k.Heads()}
	if err := e.rdb.FCall(ctx, "rcpesc_done", keys, args...).Err(); err != nil {
		return fmt.Errorf("record escalation of %s: %w", room, err)
	}
	e.m.notified.Add(float64(notified))
	return nil
}

// reschedule puts a room back on the schedule at `at` if the claim still
// holds, recording nothing else.
func (e *Escalator) reschedule(ctx context.Context, k broker.Keys, room string, c claimResult, at int64) {
	keys := []string{k.Room(room), PushedKey(k, room), k.Due(), k.Heads()}
	if err := e.rdb.FCall(ctx, "rcpesc_done", keys, room, c.leaseUntil, "", at, at).Err(); err != nil {
		e.log.Warn("escalation reschedule failed; the lease will run out", "room", room, "err", err)
	}
}
