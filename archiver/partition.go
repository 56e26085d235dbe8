package archiver

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// window is one pass's clock: entries below cutoff (Unix ms) are due for
// MySQL; pending entries below expire are past the ledger's max age.
type window struct{ now, cutoff, expire int64 }

func (w window) cutoffID() string { return strconv.FormatInt(w.cutoff, 10) + "-0" }

// roomState is a room of a pass that has something to archive or trim.
type roomState struct {
	room   string
	after  string // newest id known to be in MySQL; "" for none
	nextMs int64  // ms of the oldest entry still due, 0 if unknown
}

// archivePartition drains the partition's rooms up to the hot window, if
// it gets the partition's lease.
func (a *Archiver) archivePartition(ctx context.Context, p int) PassStats {
	k := partitionKeys(a.b, p)
	var st PassStats
	ok, err := a.lease(ctx, k.lease())
	if err != nil || !ok {
		st.Err = err
		if err != nil {
			a.cfg.Metrics.failed("lease")
		}
		return st
	}
	defer a.release(context.WithoutCancel(ctx), k.lease())
	st.Partitions = 1
	now, err := a.redisNow(ctx)
	if err != nil {
		st.Err = err
		return st
	}
	w := window{now: now, cutoff: now - a.cfg.HotWindow.Milliseconds(), expire: now - a.cfg.MaxAge.Milliseconds()}
	a.scanPartition(ctx, k, w, &st)
	if st.Err != nil {
		a.cfg.Metrics.failed("archive")
	}
	a.writeStatus(context.WithoutCancel(ctx), k, w, st)
	a.cfg.Metrics.pass(p, st, float64(time.Now().UnixMilli())/1000)
	return st
}

// scanPartition walks the partition's rooms (the heads hash) in chunks,
// renewing the lease between chunks.
func (a *Archiver) scanPartition(ctx context.Context, k keys, w window, st *PassStats) {
	var cursor uint64
	for {
		kv, next, err := a.b.Redis().HScan(ctx, k.Heads(), cursor, "", 512).Result()
		if err != nil {
			st.Err = fmt.Errorf("scan rooms of partition %d: %w", k.Partition, err)
			return
		}
		rooms := make([]string, 0, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			rooms = append(rooms, kv[i])
		}
		if len(rooms) > 0 {
			if a.drainRooms(ctx, k, rooms, w, st); st.Err != nil {
				return
			}
		}
		if cursor = next; cursor == 0 {
			return
		}
		if st.Err = a.renew(ctx, k); st.Err != nil {
			return
		}
	}
}

// renew extends the partition's lease; it fails if another archiver took it.
func (a *Archiver) renew(ctx context.Context, k keys) error {
	ok, err := a.lease(ctx, k.lease())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("partition %d: %w", k.Partition, ErrLeaseLost)
	}
	return nil
}

// drainRooms archives and trims one chunk of rooms, batch by batch, until
// no room has entries due.
func (a *Archiver) drainRooms(ctx context.Context, k keys, rooms []string, w window, st *PassStats) {
	due, err := a.dueRooms(ctx, k, rooms, w)
	if err != nil {
		st.Err = err
		return
	}
	for len(due) > 0 {
		perRoom := min(max(a.cfg.BatchRows/len(due), 16), a.cfg.RoomRows)
		n := min(len(due), max(1, a.cfg.BatchRows/perRoom))
		more, err := a.archiveBatch(ctx, k, due[:n], int64(perRoom), w, st)
		if err == nil {
			err = a.renew(ctx, k)
		}
		if err != nil {
			st.Err = err
			st.LagMs = max(st.LagMs, lagOf(due, w))
			return
		}
		due = append(due[n:], more...)
	}
}

// lagOf is how far past the hot window the oldest known due entry is.
func lagOf(due []*roomState, w window) int64 {
	var lag int64
	for _, r := range due {
		if r.nextMs > 0 {
			lag = max(lag, w.cutoff-r.nextMs)
		}
	}
	return lag
}

// dueRooms keeps the rooms whose oldest stream entry is older than the
// cutoff: they have entries to archive, or archived ones left to trim. One
// pipeline: the archive cursors and each stream's first entry.
func (a *Archiver) dueRooms(ctx context.Context, k keys, rooms []string, w window) ([]*roomState, error) {
	pipe := a.b.Redis().Pipeline()
	cur := pipe.HMGet(ctx, k.cursor(), rooms...)
	firsts := make([]*redis.XMessageSliceCmd, len(rooms))
	for i, r := range rooms {
		firsts[i] = pipe.XRangeN(ctx, k.Room(r), "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read archive state of %d rooms: %w", len(rooms), err)
	}
	var due []*roomState
	for i, r := range rooms {
		msgs := firsts[i].Val()
		if len(msgs) == 0 {
			continue
		}
		first, err := broker.ParseID(msgs[0].ID)
		if err != nil || int64(first.Ms) >= w.cutoff {
			continue
		}
		rs := &roomState{room: r}
		rs.after, _ = cur.Val()[i].(string)
		if after, err := broker.ParseID(rs.after); err != nil || after.Less(first) {
			rs.nextMs = int64(first.Ms)
		}
		due = append(due, rs)
	}
	return due, nil
}

// archiveBatch reads up to perRoom due entries of each room, inserts them
// all in one MySQL transaction, then moves the rooms' cursors and trims.
// It returns the rooms that have more entries due.
func (a *Archiver) archiveBatch(ctx context.Context, k keys, batch []*roomState, perRoom int64, w window, st *PassStats) ([]*roomState, error) {
	t0 := time.Now()
	reqs := make([]broker.RangeReq, len(batch))
	for i, r := range batch {
		reqs[i] = broker.RangeReq{Room: r.room, After: r.after, Before: w.cutoffID(), Count: perRoom}
	}
	res, err := a.b.RangeMany(ctx, reqs)
	if err != nil {
		return nil, err
	}
	var entries []broker.Entry
	for _, es := range res {
		entries = append(entries, es...)
	}
	rows, err := a.insert(ctx, entries)
	if err != nil {
		return nil, err
	}
	upto := make([]string, len(batch))
	var more []*roomState
	for i, es := range res {
		if len(es) == 0 {
			continue
		}
		last := es[len(es)-1]
		upto[i], batch[i].after = last.ID, last.ID
		if int64(len(es)) == perRoom {
			batch[i].nextMs = last.TimeMs()
			more = append(more, batch[i])
		}
	}
	c, err := a.commit(ctx, k, batch, upto, w)
	if err != nil {
		return nil, err
	}
	st.Read += int64(len(entries))
	st.Rows += rows
	st.Trimmed += c.trimmed
	st.Expired += c.expired
	for i := range batch {
		if c.held[i] && int64(len(res[i])) < perRoom {
			st.Held++ // counted once: the room's last batch of the pass
		}
	}
	a.cfg.Metrics.batchDone(int64(len(entries)), rows, c.trimmed, c.expired, time.Since(t0).Seconds())
	return more, nil
}
