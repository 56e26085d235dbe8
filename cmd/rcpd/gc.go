package main

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"
)

// DefaultGCHeadroom is how much serve lets the heap grow past the live heap
// before a collection (RCP_GC_HEADROOM_MB): at least this, or the live heap
// again if that is more (GOGC 100). rcpd's live heap is small next to what
// it allocates per message (about 25 MB live and 9 KB per message at 2,000
// connections and 2,000 msg/s), so with plain GOGC 100 it collected about
// once a second, and on a busy two-core machine each mark phase (25-80 ms)
// delays the messages in flight: p99 of benchmark (a) was 29-36 ms, and
// 15-18 ms with a GOGC of 800, which is what this headroom gives at 25 MB
// live (docs/benchmarks.md). A fixed GOGC 800 would also multiply large
// live heaps (ten thousand idle connections, images in flight) by nine; a
// headroom adds the same 192 MB to every heap.
const DefaultGCHeadroom = 192 << 20

// GC percents the tuner chooses between.
const (
	minGCPercent = 100
	maxGCPercent = 1000
)

// tuneGC starts serve's collector tuning unless the operator set GOGC
// (the runtime applies it): every second, GOGC becomes headroom over the
// live heap, within [100, 1000]. It also sets a soft memory limit of half
// the memory the process may use (the machine's, or its cgroup's if lower)
// unless GOMEMLIMIT is set, so no heap comes near the machine's size.
// headroom 0 leaves GOGC alone. It returns when ctx ends.
func tuneGC(ctx context.Context, headroom uint64, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") == "" {
		if total, ok := memoryAvailable(); ok {
			debug.SetMemoryLimit(total / 2)
		}
	}
	log.Info("garbage collector", "gcHeadroomBytes", headroom, "gogcSet", os.Getenv("GOGC") != "",
		"memoryLimitBytes", debug.SetMemoryLimit(-1))
	if headroom == 0 || os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := 0
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64(), headroom); p != last {
				debug.SetGCPercent(p)
				last = p
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gcPercentFor is the GOGC that puts the next collection headroom bytes
// past a live heap of live bytes, within [minGCPercent, maxGCPercent] and
// rounded down to a multiple of 50 (so small changes of the live heap do
// not move it).
func gcPercentFor(live, headroom uint64) int {
	if live == 0 {
		return maxGCPercent
	}
	p := headroom * 100 / live
	if p >= maxGCPercent {
		return maxGCPercent
	}
	return max(minGCPercent, int(p)/50*50)
}

// memoryAvailable is MemTotal of /proc/meminfo, or the cgroup v2 memory.max
// if that is lower.
func memoryAvailable() (int64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	total, ok := memTotal(b)
	if !ok {
		return 0, false
	}
	if c, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if limit, ok := cgroupMax(c); ok && limit < total {
			total = limit
		}
	}
	return total, true
}

// memTotal reads "MemTotal: N kB" from /proc/meminfo.
func memTotal(meminfo []byte) (int64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 3 && string(f[0]) == "MemTotal:" && string(f[2]) == "kB" {
			kb, err := strconv.ParseInt(string(f[1]), 10, 64)
			if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

// cgroupMax reads a cgroup v2 memory.max: a byte count, or "max" (none).
func cgroupMax(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
