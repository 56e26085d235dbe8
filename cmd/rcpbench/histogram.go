package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram counts durations in microseconds in log-linear buckets (exact
// below 128 µs, then 64 buckets per power of two: at most 1.6% off). It is
// safe for concurrent use and its size is fixed whatever the sample count.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n, sum atomic.Uint64
	max    atomic.Uint64
}

const (
	histLinear  = 128
	histSub     = 64
	histBuckets = histLinear + 58*histSub
)

func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - 7 // us >> e is in [64, 128)
	return histLinear + (e-1)*histSub + int(us>>e) - histSub
}

// upper is the largest value of bucket i.
func upper(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	e := (i-histLinear)/histSub + 1
	sub := uint64((i-histLinear)%histSub + histSub)
	return (sub+1)<<e - 1
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d.Microseconds(), 0))
	h.counts[bucketOf(us)].Add(1)
	h.n.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the upper bound of the bucket holding quantile q.
func (h *histogram) quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		if seen += h.counts[i].Load(); seen >= rank {
			return time.Duration(min(upper(i), h.max.Load())) * time.Microsecond
		}
	}
	return time.Duration(h.max.Load()) * time.Microsecond
}

// summary is what the report prints of a histogram, in milliseconds.
type summary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	P999  float64 `json:"p999"`
	Max   float64 `json:"max"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (h *histogram) summary() summary {
	s := summary{Count: h.n.Load()}
	if s.Count == 0 {
		return s
	}
	s.Mean = float64(h.sum.Load()) / float64(s.Count) / 1000
	s.P50, s.P90 = ms(h.quantile(0.50)), ms(h.quantile(0.90))
	s.P99, s.P999 = ms(h.quantile(0.99)), ms(h.quantile(0.999))
	s.Max = float64(h.max.Load()) / 1000
	return s
}
