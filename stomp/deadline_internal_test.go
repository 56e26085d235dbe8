package stomp

import (
	"testing"
	"time"
)

// TestLazyDeadline: the deadline set is never before the one wanted, at
// most slack after it, and set again only when that no longer holds.
func TestLazyDeadline(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var d lazyDeadline
	steps := []struct {
		want   time.Time
		slack  time.Duration
		set    bool
		expect time.Time
	}{
		{time.Time{}, 0, false, time.Time{}},                                                  // none wanted, none set
		{t0, time.Second, true, t0.Add(time.Second)},                                          // first: want + slack
		{t0.Add(500 * time.Millisecond), time.Second, false, time.Time{}},                     // still within
		{t0.Add(time.Second), time.Second, false, time.Time{}},                                // exactly at the set one
		{t0.Add(1001 * time.Millisecond), time.Second, true, t0.Add(2001 * time.Millisecond)}, // set one too early
		{t0.Add(100 * time.Millisecond), 0, true, t0.Add(100 * time.Millisecond)},             // earlier frame deadline
		{t0.Add(100 * time.Millisecond), 0, false, time.Time{}},                               // same frame deadline
		{time.Time{}, 0, true, time.Time{}},                                                   // cleared
	}
	for i, s := range steps {
		at, ok := d.next(s.want, s.slack)
		if ok != s.set || (ok && !at.Equal(s.expect)) {
			t.Fatalf("step %d: next(%v, %v) = %v, %v; want %v, %v", i, s.want, s.slack, at, ok, s.expect, s.set)
		}
	}
}
