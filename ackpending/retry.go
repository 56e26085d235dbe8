package ackpending

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// RetryPolicy bounds the attempts at one push to one device. It composes
// with the SDK's own retries: the SDK already retries 503 and network
// errors (up to 5 attempts, 0/1/2/4 s, honouring Retry-After); this layer
// retries what it gives up on and what it does not retry at all (500,
// 429), with exponential backoff and jitter, never sooner than a
// Retry-After asks.
type RetryPolicy struct {
	Attempts int           // total attempts (4)
	Base     time.Duration // first backoff (500 ms), doubled each time
	Max      time.Duration // longest backoff (30 s)
	Jitter   float64       // ± fraction of each backoff (0.2)
}

// DefaultRetryPolicy is the policy of DefaultConfig.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Attempts: 4, Base: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: 0.2}
}

// backoff is the wait before attempt number n+1 (n ≥ 1 attempts done).
func (p RetryPolicy) backoff(n int, retryAfter time.Duration) time.Duration {
	d := p.Base << min(n-1, 20)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	if p.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + p.Jitter*(2*rand.Float64()-1)))
	}
	return max(d, retryAfter)
}

// errGaveUp wraps the last error when attempts or time ran out; retryIn
// says when the room should be looked at again.
type errGaveUp struct {
	err     error
	retryIn time.Duration
}

func (e *errGaveUp) Error() string { return "gave up: " + e.err.Error() }
func (e *errGaveUp) Unwrap() error { return e.err }

// sendRetrying sends with the policy; a wait that would pass ctx's deadline
// is not started. Every failed attempt is passed to failed.
func sendRetrying(ctx context.Context, s Sender, p RetryPolicy, token string, n Notification, failed func(error)) error {
	for attempt := 1; ; attempt++ {
		err := s.Send(ctx, token, n)
		if err == nil {
			return nil
		}
		failed(err)
		if !isTransient(err) {
			return err
		}
		var pe *PushError
		errors.As(err, &pe)
		wait := p.backoff(attempt, pe.RetryAfter)
		if attempt >= p.Attempts {
			return &errGaveUp{err: err, retryIn: wait}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return &errGaveUp{err: err, retryIn: wait}
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return &errGaveUp{err: err, retryIn: wait}
		}
	}
}
