package archiver_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
)

// BenchmarkArchive1M drains 1,000,000 entries of 1,000 rooms (two members
// each, everything acknowledged, ids 10 days old) into MySQL and reports
// rows/s and Redis memory before and after. One iteration takes a minute
// or two; run it alone:
//
//	go test -run '^$' -bench Archive1M -benchtime 1x ./archiver/
func BenchmarkArchive1M(b *testing.B) {
	for _, workers := range []int{2, 4} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			for range b.N {
				benchArchive(b, workers, 1000, 1000)
			}
		})
	}
}

func benchArchive(b *testing.B, workers, rooms, perRoom int) {
	b.StopTimer()
	e := newEnv(b)
	ctx := context.Background()
	start := daysAgo(10)
	memEmpty := usedMemory(b, e.b)
	for i := range rooms {
		r := fmt.Sprintf("bench%04d", i)
		ids := e.fill(r, "alice", []string{"alice", "bob"}, perRoom, start+int64(i), 1)
		if err := e.b.Redis().XAck(ctx, e.b.KeysFor(r).Room(r), broker.Group("bob"), ids...).Err(); err != nil {
			b.Fatal(err)
		}
	}
	memFull := usedMemory(b, e.b)
	a := e.archiver(archiver.Config{HotWindow: week, Workers: workers})
	b.StartTimer()
	t0 := time.Now()
	st := a.RunOnce(ctx)
	took := time.Since(t0)
	b.StopTimer()
	if st.Err != nil || st.Rows != int64(rooms*perRoom) || st.Trimmed != int64(rooms*perRoom) {
		b.Fatalf("pass %+v", st)
	}
	memAfter := usedMemory(b, e.b)
	rate := float64(st.Rows) / took.Seconds()
	b.ReportMetric(rate, "rows/s")
	b.ReportMetric(float64(memFull-memEmpty)/(1<<20), "MiB-filled")
	b.ReportMetric(float64(memAfter-memEmpty)/(1<<20), "MiB-after")
	b.Logf("workers %d: %d rows in %v = %.0f rows/s; Redis used_memory %.1f MiB empty, %.1f MiB filled, %.1f MiB after",
		workers, st.Rows, took.Round(time.Millisecond), rate,
		float64(memEmpty)/(1<<20), float64(memFull)/(1<<20), float64(memAfter)/(1<<20))
}

// BenchmarkArchive200K is a smaller run of the same, for profiling.
func BenchmarkArchive200K(b *testing.B) {
	for range b.N {
		benchArchive(b, 2, 200, 1000)
	}
}

// usedMemory is INFO memory's used_memory of the test Redis.
func usedMemory(tb testing.TB, b *broker.Broker) int64 {
	tb.Helper()
	info, err := b.Redis().Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	tb.Fatal("no used_memory in INFO memory")
	return 0
}
