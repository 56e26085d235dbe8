package broker

import (
	"context"
	"time"
)

// ackReq is one entry to acknowledge.
type ackReq struct{ room, user, id string }

// Acker pipelines XACKs in small batches: the auto ack mode acknowledges
// each message once it is written, and one round trip per message would
// cost more than the delivery.
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
	a.in <- ackReq{room, user, id}
}

// Run sends queued XACKs, at most 256 per pipeline, until ctx ends; then it
// sends what is still queued.
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

func (a *Acker) flush(ctx context.Context, batch []ackReq) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	pipe := a.b.rdb.Pipeline()
	for _, r := range batch {
		pipe.XAck(ctx, a.b.KeysFor(r.room).Room(r.room), Group(r.user), r.id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// The entries stay pending: they are redelivered on the next
		// SUBSCRIBE, never lost.
		a.b.log.Warn("auto ack failed; entries stay pending", "count", len(batch), "err", err)
	}
}
