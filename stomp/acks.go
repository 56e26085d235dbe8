package stomp

import (
	"context"
	"sync"
)

// AsyncAcker is a Handler that can acknowledge without holding the reader:
// AckAsync starts acknowledging ids and calls done exactly once, from any
// goroutine, when that is over. The session then reads the client's next
// frame at once, so a client that ACKs every MESSAGE costs a round trip to
// the handler's store per batch of ACKs rather than per ACK.
//
// What an ACK meant when it was synchronous still holds: before it sends a
// RECEIPT (for the ACK or any later frame) and before it handles any frame
// other than SEND, ACK and NACK, the session waits for every ACK handed
// over so far. A failed ACK ends the session with an ERROR, as a failed
// synchronous one would.
type AsyncAcker interface {
	AckAsync(ctx context.Context, s *Subscription, ids []string, done func(error))
}

// inflightAcks counts a session's ACKs handed to an AsyncAcker and not yet
// done.
type inflightAcks struct {
	mu      sync.Mutex
	n       int
	err     error         // the first failure
	drained chan struct{} // closed when n drops to 0; nil when nobody waits
}

func (a *inflightAcks) add() {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
}

// done records one ACK's outcome and reports whether it is the session's
// first failure.
func (a *inflightAcks) done(err error) (first bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n--
	if err != nil && a.err == nil {
		a.err, first = err, true
	}
	if a.n == 0 && a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
	return first
}

// wait returns once no ACK is in flight: the first failure, if any, or
// errClosed when the session closes first.
func (a *inflightAcks) wait(ctx context.Context, closing <-chan struct{}) error {
	a.mu.Lock()
	if a.n == 0 {
		err := a.err
		a.mu.Unlock()
		return err
	}
	if a.drained == nil {
		a.drained = make(chan struct{})
	}
	drained := a.drained
	a.mu.Unlock()
	select {
	case <-drained:
	case <-closing:
		return errClosed
	case <-ctx.Done():
		return errClosed
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// ackAsync hands ids to the handler's AckAsync; a failure ends the session.
func (c *Conn) ackAsync(a AsyncAcker, s *Subscription, ids []string) {
	c.acks.add()
	a.AckAsync(c.ctx, s, ids, func(err error) {
		if c.acks.done(err) {
			c.fail(err)
		}
	})
}

// barrier reports whether frame f waits for the ACKs in flight before it
// is handled: SEND, ACK and NACK may overtake them (their RECEIPT may not).
func barrier(f *Frame) bool {
	switch f.Command {
	case CmdSend, CmdAck, CmdNack:
		return false
	}
	return true
}
