package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ackReq is one XACK to run; done, when set, receives its result.
type ackReq struct {
	room, user string
	ids        []string
	done       func(error)
}

// Acker pipelines XACKs in small batches: the auto ack mode acknowledges
// each message once it is written, and one round trip per message would
// cost more than the delivery. AckAsync lets the ACK frames of many
// connections share the same pipelines, each told of its own result.
type Acker struct {
	b  *Broker
	in chan ackReq
}

// NewAcker returns an acker; Run must be running for Ack to make progress.
func (b *Broker) NewAcker() *Acker {
	return &Acker{b: b, in: make(chan ackReq, 4096)}
}

// Ack queues one acknowledgement. It blocks while the queue is full, which
// slows the writers that call it rather than dropping acknowledgements.
func (a *Acker) Ack(room, user, id string) {
	a.in <- ackReq{room: room, user: user, ids: []string{id}}
}

// AckAsync queues an XACK of ids for user in room and calls done once with
// its result, from the goroutine of Run (done must not block). It blocks
// while the queue is full; if ctx ends first, done gets ctx's error and the
// entries stay pending. Run must be running.
func (a *Acker) AckAsync(ctx context.Context, room, user string, ids []string, done func(error)) {
	if len(ids) == 0 {
		done(nil)
		return
	}
	select {
	case a.in <- ackReq{room: room, user: user, ids: ids, done: done}:
	case <-ctx.Done():
		done(ctx.Err())
	}
}

// Run sends queued XACKs, at most 256 per pipeline, until ctx ends.
func (a *Acker) Run(ctx context.Context) {
	batch := make([]ackReq, 0, 256)
	for {
		select {
		case r := <-a.in:
			batch = append(batch[:0], r)
		fill:
			for len(batch) < cap(batch) {
				select {
				case r := <-a.in:
					batch = append(batch, r)
				default:
					break fill
				}
			}
			a.flush(context.WithoutCancel(ctx), batch)
		case <-ctx.Done():
			return
		}
	}
}

// flush runs a batch in one pipeline, with one XACK per (room, user): the
// ACKs of one connection queued together share it.
func (a *Acker) flush(ctx context.Context, batch []ackReq) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	type xack struct {
		room, user string
		ids        []string
		cmd        *redis.IntCmd
	}
	var xacks []xack
	at := make(map[[2]string]int, len(batch))
	which := make([]int, len(batch))
	for i, r := range batch {
		k := [2]string{r.room, r.user}
		j, ok := at[k]
		if !ok {
			j = len(xacks)
			at[k] = j
			xacks = append(xacks, xack{room: r.room, user: r.user})
		}
		xacks[j].ids = append(xacks[j].ids, r.ids...)
		which[i] = j
	}
	pipe := a.b.rdb.Pipeline()
	for j := range xacks {
		x := &xacks[j]
		x.cmd = pipe.XAck(ctx, a.b.KeysFor(x.room).Room(x.room), Group(x.user), x.ids...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// The entries stay pending: they are redelivered on the next
		// SUBSCRIBE, never lost.
		a.b.log.Warn("ack failed; entries stay pending", "count", len(batch), "err", err)
	}
	for i, r := range batch {
		if r.done == nil {
			continue
		}
		x := xacks[which[i]]
		if err := x.cmd.Err(); err != nil {
			r.done(fmt.Errorf("ack %d in %s for %s: %w", len(r.ids), r.room, r.user, err))
			continue
		}
		r.done(nil)
	}
}
