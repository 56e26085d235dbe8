package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestMemTotal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal:       24576000 kB\nMemFree:  1 kB\n", 24576000 * 1024, true},
		{"MemFree:  1 kB\nMemTotal: 8 kB\n", 8192, true},
		{"MemTotal: 8 MB\n", 0, false},
		{"MemTotal: -8 kB\n", 0, false},
		{"MemTotal: 99999999999999999999 kB\n", 0, false},
		{"", 0, false},
	} {
		if got, ok := memTotal([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("memTotal(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{{"max\n", 0, false}, {"536870912\n", 536870912, true}, {"0", 0, false}, {"", 0, false}} {
		if got, ok := cgroupMax([]byte(c.in)); got != c.want || ok != c.ok {
			t.Errorf("cgroupMax(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, 192 * mb, maxGCPercent},
		{10 * mb, 192 * mb, maxGCPercent},   // 1920 % capped
		{25 * mb, 192 * mb, 750},            // 768 % rounded down
		{64 * mb, 192 * mb, 300},            // exactly
		{230 * mb, 192 * mb, minGCPercent},  // 83 %: never under 100
		{1024 * mb, 192 * mb, minGCPercent}, //
		{25 * mb, 0, minGCPercent},
	} {
		if got := gcPercentFor(c.live, c.headroom); got != c.want {
			t.Errorf("gcPercentFor(%d MB, %d MB) = %d, want %d", c.live/mb, c.headroom/mb, got, c.want)
		}
	}
}

// TestTuneGC: with GOGC unset the tuner sets GOGC from the live heap and a
// memory limit of half the memory; GOGC and GOMEMLIMIT, when set, stay.
func TestTuneGC(t *testing.T) {
	percent, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(percent); debug.SetMemoryLimit(limit) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tuneGC(ctx, 1<<40, log); close(done) }() // a huge headroom: the cap
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() != maxGCPercent && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if got := debug.SetGCPercent(100); got != maxGCPercent {
		t.Errorf("GOGC unset: gc percent %d, want %d", got, maxGCPercent)
	}
	total, ok := memoryAvailable()
	if got := debug.SetMemoryLimit(-1); !ok || got != total/2 {
		t.Errorf("GOMEMLIMIT unset: limit %d, want half of %d (%v)", got, total, ok)
	}

	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	tuneGC(context.Background(), 1<<40, log) // returns at once: GOGC is set
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC=100: gc percent %d", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("GOMEMLIMIT=1GiB: limit %d", got)
	}
}

// gcPercent reads GOGC (SetGCPercent returns the value it replaces).
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}
