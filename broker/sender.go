package broker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// SenderConfig tunes a Sender.
type SenderConfig struct {
	Flushers int           // pipelines in flight at once (4)
	Batch    int           // rcp_send calls per pipeline at most (64)
	Timeout  time.Duration // bound of one pipeline round trip (10 s)
}

// Sender runs the rcp_send calls of many connections in shared pipelines
// (group commit), as Acker does for XACKs: a SEND waits for its own reply
// as with Broker.Send, but a burst of SENDs from many connections costs
// rcpd one pool checkout, one write and one read per pipeline instead of
// per SEND, and Redis one read and one write per pipeline. An idle Sender
// adds no delay: a lone SEND leaves at once in a pipeline of its own.
//
// It keeps Broker.Send's guarantees: the call is never resent after a
// network error (its first run may have stored the message with only the
// reply lost; the client retries with its x-client-id instead), and a
// Send returns only once its own call has returned. SENDs of one caller
// that waits for each reply before the next (a STOMP connection does)
// keep their order.
type Sender struct {
	b   *Broker
	cfg SenderConfig
	in  chan *sendReq
}

// sendReq is one queued rcp_send; done is closed once cmd holds its reply
// or error.
type sendReq struct {
	ctx  context.Context
	cmd  *redis.Cmd
	done chan struct{}
}

// NewSender returns a sender with cfg's zero fields defaulted; Run must be
// running for Send to make progress.
func (b *Broker) NewSender(cfg SenderConfig) *Sender {
	if cfg.Flushers <= 0 {
		cfg.Flushers = 4
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Sender{b: b, cfg: cfg, in: make(chan *sendReq, 4096)}
}

// Send is Broker.Send through the shared pipelines: once it returns
// without error, every member has a pending entry. An error after the call
// was queued (ctx ended, connection lost) may hide a stored message, as a
// lost reply does with Broker.Send.
func (s *Sender) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	keys, args, err := s.b.sendCall(r)
	if err != nil {
		return SendResult{}, err
	}
	q := &sendReq{ctx: ctx, cmd: fcallCmd(ctx, "rcp_send", keys, args), done: make(chan struct{})}
	select {
	case s.in <- q:
	case <-ctx.Done():
		return SendResult{}, fmt.Errorf("send to %s: %w", r.Room, ctx.Err())
	}
	select {
	case <-q.done:
		return sendResult(r, q.cmd)
	case <-ctx.Done():
		return SendResult{}, fmt.Errorf("send to %s: %w", r.Room, ctx.Err())
	}
}

// Run sends queued calls with Flushers pipelines of at most Batch calls in
// flight until ctx ends. Calls still queued then are left to their
// callers' contexts.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.cfg.Flushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx)
		}()
	}
	wg.Wait()
}

func (s *Sender) loop(ctx context.Context) {
	batch := make([]*sendReq, 0, s.cfg.Batch)
	for {
		select {
		case q := <-s.in:
			batch = append(batch[:0], q)
		fill:
			for len(batch) < cap(batch) {
				select {
				case q := <-s.in:
					batch = append(batch, q)
				default:
					break fill
				}
			}
			s.flush(ctx, batch)
			clear(batch)
		case <-ctx.Done():
			return
		}
	}
}

// flush runs one pipeline. Every call is marked NoRetry, so go-redis
// resends none of them after a network error (a pipeline holding a NoRetry
// command is not retried, on a single Redis or a Cluster); MOVED and ASK
// replies, which mean the call did not run, are still followed.
func (s *Sender) flush(ctx context.Context, batch []*sendReq) {
	pipe := s.b.rdb.Pipeline()
	queued := make([]*sendReq, 0, len(batch))
	for _, q := range batch {
		if err := q.ctx.Err(); err != nil {
			q.cmd.SetErr(err) // the caller gave up before it ran: never sent
			close(q.done)
			continue
		}
		_ = pipe.Process(q.ctx, noRetryCmd{q.cmd})
		queued = append(queued, q)
	}
	if len(queued) == 0 {
		return
	}
	// Not the caller's context nor Run's: a pipeline cut short halfway
	// would leave its calls' outcome unknown for no reason.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	_, _ = pipe.Exec(pctx) // each call's error is on its command
	for _, q := range queued {
		close(q.done)
	}
}
