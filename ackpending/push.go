package ackpending

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// push sends one collapsed notification per job with entries to announce,
// to every device of its user, and sets each job's outcome.
func (e *Escalator) push(ctx context.Context, room string, sc scanResult, jobs []*job, lk lookup, policy Preview) {
	now := time.Now()
	var wg sync.WaitGroup
	for _, j := range jobs {
		if len(j.ids) == 0 {
			continue
		}
		if until := e.pausedUntil.Load(); until > now.UnixMilli() {
			j.outcome, j.retryAt = outcomeRetry, sc.at(time.UnixMilli(until))
			continue
		}
		devs, known := lk.devices[j.user]
		switch {
		case !known: // not a candidate at lookup (cannot happen: due implies idle >= grace)
			j.outcome, j.retryAt = outcomeRetry, sc.at(now.Add(e.cfg.Poll))
			continue
		case len(devs) == 0:
			j.outcome = outcomeSkipped // nowhere to push; the entries stay undelivered (count 1)
			continue
		}
		id := j.ids[len(j.ids)-1]
		n := newNotification(j.user, room, id, lk.entries[id], j.total, len(j.ids), policy)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.pushJob(ctx, sc, j, devs, n)
		}()
	}
	wg.Wait()
}

// pushJob sends n to each device of one member and settles the job: pushed
// if any device accepted; retry if one may still accept later; skipped if
// every device refused for good.
func (e *Escalator) pushJob(ctx context.Context, sc scanResult, j *job, devs []Device, n Notification) {
	errs := make([]error, len(devs))
	var wg sync.WaitGroup
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.sendOne(ctx, d, n)
		}()
	}
	wg.Wait()
	j.outcome = outcomeSkipped
	var retryIn time.Duration
	for _, err := range errs {
		var gave *errGaveUp
		switch {
		case err == nil:
			j.outcome = outcomePushed
		case errors.As(err, &gave):
			retryIn = max(retryIn, gave.retryIn)
		case errors.Is(err, ErrConfig):
			retryIn = max(retryIn, e.cfg.Poll, time.Until(time.UnixMilli(e.pausedUntil.Load())))
		case errors.Is(err, ErrTokenGone), errors.Is(err, ErrRejected):
		default: // cancelled, deadline, unexpected: look again soon
			retryIn = max(retryIn, e.cfg.Poll)
		}
	}
	if j.outcome == outcomePushed {
		e.m.observeLag(e.m.lag, time.Duration(sc.at(time.Now())-j.dueAt)*time.Millisecond)
		return
	}
	if retryIn > 0 {
		j.outcome, j.retryAt = outcomeRetry, sc.at(time.Now().Add(retryIn))
	}
}

// sendOne pushes to one device with retries, within the node's send slots,
// and handles the verdict: a gone token is removed, a configuration error
// pauses pushes.
func (e *Escalator) sendOne(ctx context.Context, d Device, n Notification) error {
	select {
	case e.sendSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := sendRetrying(ctx, e.sender, e.cfg.Retry, d.Token, n, func(err error) {
		e.m.failed.WithLabelValues(reasonOf(err)).Inc()
	})
	<-e.sendSlots
	switch {
	case err == nil:
		e.m.sent.Inc()
	case errors.Is(err, ErrTokenGone):
		e.log.Info("removing device token FCM refused", "user", d.User, "token", shortToken(d.Token), "reason", reasonOf(err))
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if rerr := e.devices.Remove(rctx, d.User, d.Token); rerr != nil {
			e.log.Warn("removing device token failed", "user", d.User, "err", rerr)
		} else {
			e.m.removed.Inc()
		}
	case errors.Is(err, ErrConfig):
		e.pause(err)
	case errors.Is(err, ErrRejected):
		e.log.Error("FCM rejected a notification", "user", d.User, "room", n.Room, "err", err)
	}
	return err
}

// pause stops pushes for ConfigPause after a configuration error, reporting
// it once per pause.
func (e *Escalator) pause(err error) {
	now := time.Now()
	old := e.pausedUntil.Load()
	if old > now.UnixMilli() {
		return
	}
	if e.pausedUntil.CompareAndSwap(old, now.Add(e.cfg.ConfigPause).UnixMilli()) {
		e.log.Error("FCM sender misconfigured: pushes paused; fix the credentials or project",
			"err", err, "reason", reasonOf(err), "pause", e.cfg.ConfigPause.String())
	}
}

// newestEntries reads the entries a notification shows (one XRANGE per
// distinct id). An entry trimmed from the stream is missing from the map.
func (e *Escalator) newestEntries(ctx context.Context, stream string, ids []string) (map[string]newestEntry, error) {
	out := make(map[string]newestEntry, len(ids))
	pipe := e.rdb.Pipeline()
	cmds := make(map[string]*redis.XMessageSliceCmd)
	for _, id := range ids {
		if cmds[id] == nil {
			cmds[id] = pipe.XRange(ctx, stream, id, id)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return out, err
	}
	for id, c := range cmds {
		for _, m := range c.Val() {
			out[id] = entryFields(m)
		}
	}
	return out, nil
}
