package archiver

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// commitResult sums up the cursor moves and trims of a batch.
type commitResult struct {
	trimmed, expired int64
	held             []bool // per room: a younger pending entry holds the trim
}

// blocker is a member whose pending entries past the max age block a trim.
type blocker struct{ group, oldest string }

type roomCommit struct {
	trimmed  int64
	held     bool
	cursor   string
	blockers []blocker
}

// commit moves each room's archive cursor to upto[i] ("" = unchanged) and
// trims its stream (rcparch_commit), in one pipeline. Rooms whose trim is
// blocked by entries past the max age get them escalated and acknowledged,
// then are trimmed again.
func (a *Archiver) commit(ctx context.Context, k keys, batch []*roomState, upto []string, w window) (commitResult, error) {
	res := commitResult{held: make([]bool, len(batch))}
	pipe := a.b.Redis().Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, r := range batch {
		cmds[i] = pipe.FCall(ctx, "rcparch_commit", []string{k.Room(r.room), k.cursor()}, r.room, upto[i], w.expire)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return res, fmt.Errorf("commit %d rooms: %w", len(batch), err)
	}
	for i, c := range cmds {
		rc, err := parseCommit(c)
		if err != nil {
			return res, fmt.Errorf("commit %s: %w", batch[i].room, err)
		}
		res.trimmed += rc.trimmed
		for round := 0; len(rc.blockers) > 0 && round < 3; round++ {
			n, err := a.expire(ctx, batch[i].room, rc, w)
			res.expired += n
			if err != nil {
				return res, err
			}
			if rc, err = a.commitOne(ctx, k, batch[i].room, w); err != nil {
				return res, err
			}
			res.trimmed += rc.trimmed
		}
		res.held[i] = rc.held || len(rc.blockers) > 0
	}
	return res, nil
}

func (a *Archiver) commitOne(ctx context.Context, k keys, room string, w window) (roomCommit, error) {
	c := a.b.Redis().FCall(ctx, "rcparch_commit", []string{k.Room(room), k.cursor()}, room, "", w.expire)
	rc, err := parseCommit(c)
	if err != nil {
		return rc, fmt.Errorf("commit %s: %w", room, err)
	}
	return rc, nil
}

// parseCommit reads {trimmed, held, cursor, group1, oldest1, ...}.
func parseCommit(c *redis.Cmd) (roomCommit, error) {
	v, err := c.Slice()
	if err != nil {
		return roomCommit{}, err
	}
	if len(v) < 3 || len(v)%2 == 0 {
		return roomCommit{}, fmt.Errorf("rcparch_commit: unexpected reply %v", v)
	}
	var rc roomCommit
	rc.trimmed, _ = v[0].(int64)
	held, _ := v[1].(int64)
	rc.held = held == 1
	rc.cursor, _ = v[2].(string)
	for i := 3; i+1 < len(v); i += 2 {
		g, _ := v[i].(string)
		o, _ := v[i+1].(string)
		rc.blockers = append(rc.blockers, blocker{g, o})
	}
	return rc, nil
}

// expire escalates and acknowledges, for each blocking member, the entries
// pending past the max age that are already in MySQL (at or before the
// cursor). It returns how many it acknowledged.
func (a *Archiver) expire(ctx context.Context, room string, rc roomCommit, w window) (int64, error) {
	end := rc.cursor
	if c, err := broker.ParseID(rc.cursor); err != nil || int64(c.Ms) >= w.expire {
		end = "(" + strconv.FormatInt(w.expire, 10) + "-0"
	}
	var total int64
	for _, bl := range rc.blockers {
		user := strings.TrimPrefix(bl.group, "u:")
		for {
			n, err := a.expireSome(ctx, room, user, end)
			total += n
			if err != nil {
				return total, err
			}
			if n < expirePage {
				break
			}
		}
	}
	return total, nil
}

// expirePage bounds the entries of one XPENDING/XACK round.
const expirePage = 1000

func (a *Archiver) expireSome(ctx context.Context, room, user, end string) (int64, error) {
	ps, err := a.b.Redis().XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: a.b.KeysFor(room).Room(room), Group: broker.Group(user), Start: "-", End: end, Count: expirePage,
	}).Result()
	if err != nil || len(ps) == 0 {
		if err != nil {
			err = fmt.Errorf("expired entries of %s in %s: %w", user, room, err)
		}
		return 0, err
	}
	entries := make([]broker.PendingEntry, len(ps))
	ids := make([]string, len(ps))
	for i, p := range ps {
		entries[i] = broker.PendingEntry{ID: p.ID, Idle: p.Idle.Milliseconds(), Deliveries: p.RetryCount}
		ids[i] = p.ID
	}
	if err := a.cfg.Escalator.LastCall(ctx, room, user, entries); err != nil {
		a.cfg.Metrics.failed("escalate")
		return 0, fmt.Errorf("last call for %s in %s: %w", user, room, err)
	}
	if _, err := a.b.Ack(ctx, room, user, ids...); err != nil {
		return 0, err
	}
	return int64(len(ps)), nil
}
