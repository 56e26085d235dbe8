package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// FanoutBlock is how long one XREAD on a partition feed blocks.
const FanoutBlock = 2 * time.Second

// Fanout reads every partition feed with one blocking XREAD per partition.
type Fanout struct {
	b      *Broker
	starts []string
}

// NewFanout takes the feeds' current ends as the starting points: what came
// before is the members' backlog, read on SUBSCRIBE.
func (b *Broker) NewFanout(ctx context.Context) (*Fanout, error) {
	starts := make([]string, b.cfg.Partitions)
	for p := range starts {
		id, err := b.feedEnd(ctx, p)
		if err != nil {
			return nil, err
		}
		starts[p] = id
	}
	return &Fanout{b: b, starts: starts}, nil
}

// Run calls deliver for each feed entry after the starting points, in feed
// order per partition (so in stream order per room). After a Redis error it
// retries from the last id it handled, so a reconnect neither loses nor
// repeats entries. It returns when ctx ends.
func (f *Fanout) Run(ctx context.Context, deliver func(Entry)) {
	var wg sync.WaitGroup
	for p, start := range f.starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.b.readFeed(ctx, p, start, deliver)
		}()
	}
	wg.Wait()
}

// feedEnd returns the id of the newest entry of a partition feed, "0-0" if
// it is empty.
func (b *Broker) feedEnd(ctx context.Context, p int) (string, error) {
	k := Keys{Prefix: b.cfg.Prefix, Partition: p}
	msgs, err := b.rdb.XRevRangeN(ctx, k.Feed(), "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("end of feed %d: %w", p, err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

func (b *Broker) readFeed(ctx context.Context, p int, last string, deliver func(Entry)) {
	feed := Keys{Prefix: b.cfg.Prefix, Partition: p}.Feed()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		res, err := b.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{feed, last}, Count: 512, Block: FanoutBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.log.Warn("feed read failed; retrying", "partition", p, "after", last, "err", err, "backoff", backoff.String())
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				deliver(entryFrom("", m))
				last = m.ID
			}
		}
	}
}
