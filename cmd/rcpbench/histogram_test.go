package main

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	for us := uint64(0); us < 1<<24; us = us*17/16 + 1 {
		i := bucketOf(us)
		if up := upper(i); up < us || (i > 0 && upper(i-1) >= us) {
			t.Fatalf("%d µs in bucket %d with upper %d (previous %d)", us, i, up, upper(i-1))
		}
		if us >= histLinear && float64(upper(i)-us) > float64(us)/64 {
			t.Fatalf("%d µs: bucket upper %d is more than 1/64 off", us, upper(i))
		}
	}
	if bucketOf(1<<63) >= histBuckets {
		t.Fatalf("largest value out of range: %d", bucketOf(1<<63))
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * 10 * time.Microsecond) // 10 µs … 10 ms
	}
	s := h.summary()
	if s.Count != 1000 || s.Max != 10 || s.Mean != 5.005 {
		t.Fatalf("summary %+v", s)
	}
	for _, c := range []struct{ got, want float64 }{{s.P50, 5}, {s.P90, 9}, {s.P99, 9.9}} {
		if c.got < c.want || c.got > c.want*1.016 {
			t.Fatalf("quantile %v, want %v within 1.6%%: %+v", c.got, c.want, s)
		}
	}
}
