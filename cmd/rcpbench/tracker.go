package main

import (
	"sync"
	"sync/atomic"
	"time"
)

// msgState is one message sent by the benchmark.
type msgState struct {
	sentNs    atomic.Int64 // 0 until written
	room      int32
	receipted atomic.Bool
	delivered atomic.Int32 // first deliveries to distinct subscribers
}

// tracker is the ledger of the benchmark itself: every message by id,
// latencies, and the counters of the report. Its size is fixed at start.
type tracker struct {
	start    time.Time
	msgs     []msgState
	next     atomic.Int64 // ids handed out
	expected []int32      // subscribers per room

	sent, receipted             atomic.Int64
	expectedSent                atomic.Int64 // Σ subscribers of the rooms of the SENDs written
	delivered, duplicates, acks atomic.Int64
	unexpected                  atomic.Int64 // deliveries of no message of this run
	lastDelivery                atomic.Int64 // ns since start

	latency, receiptLatency, lag histogram

	mu     sync.Mutex
	errors map[string]int
}

func newTracker(capacity int, rooms int) *tracker {
	return &tracker{start: time.Now(), msgs: make([]msgState, capacity),
		expected: make([]int32, rooms), errors: map[string]int{}}
}

// now is the time since start in nanoseconds: monotonic, so sender and
// receiver in one process agree.
func (t *tracker) now() int64 { return int64(time.Since(t.start)) }

// take reserves the next message id; ok is false once the capacity (the
// message budget) is spent.
func (t *tracker) take(room int) (int64, bool) {
	id := t.next.Add(1) - 1
	if id >= int64(len(t.msgs)) {
		return 0, false
	}
	t.msgs[id].room = int32(room)
	return id, true
}

func (t *tracker) markReceipted(id int64) {
	if id < 0 || id >= int64(len(t.msgs)) || t.msgs[id].receipted.Swap(true) {
		t.unexpected.Add(1)
		return
	}
	t.receipted.Add(1)
	t.receiptLatency.record(time.Duration(t.now() - t.msgs[id].sentNs.Load()))
}

// markDelivered counts the first delivery of message id to a subscriber of
// room; sentNs is the send time read from the body.
func (t *tracker) markDelivered(id int64, room int, sentNs int64) {
	if id < 0 || id >= t.next.Load() || int(t.msgs[id].room) != room {
		t.unexpected.Add(1)
		return
	}
	now := t.now()
	t.msgs[id].delivered.Add(1)
	t.delivered.Add(1)
	t.latency.record(time.Duration(now - sentNs))
	for {
		last := t.lastDelivery.Load()
		if now <= last || t.lastDelivery.CompareAndSwap(last, now) {
			return
		}
	}
}

func (t *tracker) error(msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors[msg]++
}

// used returns the ids handed out (at most the capacity).
func (t *tracker) used() int64 { return min(t.next.Load(), int64(len(t.msgs))) }

// markSent counts a SEND written to the wire.
func (t *tracker) markSent(id int64) {
	t.sent.Add(1)
	t.expectedSent.Add(int64(t.expected[t.msgs[id].room]))
}

// outstanding reports what is still awaited, in O(1) so the drain loop
// costs nothing: receipts of sent messages, and deliveries of sent ones.
func (t *tracker) outstanding(receipts bool) (receiptsDue, deliveriesDue int64) {
	if receipts {
		receiptsDue = t.sent.Load() - t.receipted.Load()
	}
	return receiptsDue, max(t.expectedSent.Load()-t.delivered.Load(), 0)
}
