package ackpending_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
)

// BenchmarkDueRooms: the escalator's cost per due room when there is
// nothing to push, the common case of benchmark (a) (docs/benchmarks.md):
// 1,000 rooms of 2 online members, each room due once with its ledger
// either empty (acked: the receiver acknowledged) or holding one entry
// younger than the thresholds (young: a message in flight). It reports
// Redis CPU, Redis commands (INFO commandstats, inside Functions
// included) and this process's CPU per room until every room was handled.
// Run: go test -run '^$' -bench DueRooms -benchtime 1x ./ackpending/
func BenchmarkDueRooms(b *testing.B) {
	for _, acked := range []bool{true, false} {
		name := map[bool]string{true: "acked", false: "young"}[acked]
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchDueRooms(b, 1000, acked)
			}
		})
	}
}

func benchDueRooms(b *testing.B, rooms int, acked bool) {
	const partitions = 16
	e := newEnv(b, 10*time.Second, partitions)
	ctx := context.Background()
	e.cfg.Lease, e.cfg.Poll = 30*time.Second, 250*time.Millisecond
	room := func(i int) string { return fmt.Sprintf("d%d", i) }
	parallel(b, rooms, func(i int) error {
		for _, u := range []string{"a", "b"} {
			if _, err := e.b.Join(ctx, room(i), u+strconv.Itoa(i)); err != nil {
				return err
			}
			if err := e.presence.Connected(ctx, u+strconv.Itoa(i), "s"); err != nil {
				return err
			}
		}
		res, err := e.b.Send(ctx, broker.SendRequest{Room: room(i), Sender: "a" + strconv.Itoa(i), Type: "text", Body: []byte(`{"type":"text","text":"x"}`)})
		if err != nil {
			return err
		}
		if acked {
			_, err = e.b.Ack(ctx, room(i), "b"+strconv.Itoa(i), res.ID)
		}
		return err
	})
	// Every room due now.
	t0 := time.Now().UnixMilli()
	pipe := e.rdb.Pipeline()
	for i := range rooms {
		pipe.ZAdd(ctx, e.b.KeysFor(room(i)).Due(), redis.Z{Score: float64(t0), Member: room(i)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	before, cpu0, self0 := commandStats(b, e.rdb), brokertest.RedisCPU(b, e.rdb), brokertest.SelfCPU()
	start := time.Now()
	esc := ackpending.NewEscalator(e.rdb, e.db, e.devices, e.sender(), e.cfg)
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); esc.Run(rctx) }()
	// Handled: out of the schedule, or rescheduled before the lease end
	// (claimed rooms hold lease-end scores, t0 + 30 s and later).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		left := int64(0)
		for p := range partitions {
			due := broker.Keys{Prefix: e.prefix, Partition: p}.Due()
			left += e.rdb.ZCount(ctx, due, "-inf", strconv.FormatInt(t0, 10)).Val()
			left += e.rdb.ZCount(ctx, due, strconv.FormatInt(t0+20_000, 10), "+inf").Val()
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d rooms not handled within a minute", left)
		}
	}
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	after, cpu1, self1 := commandStats(b, e.rdb), brokertest.RedisCPU(b, e.rdb), brokertest.SelfCPU()
	d := delta(after, before)
	n := float64(rooms)
	b.ReportMetric(float64(sum(d))/n, "redis-cmds/room")
	b.ReportMetric((cpu1-cpu0).Seconds()*1e6/n, "redis-µs/room")
	b.ReportMetric((self1-self0).Seconds()*1e6/n, "process-µs/room")
	b.ReportMetric(elapsed.Seconds(), "s")
	b.Logf("%d rooms in %v; commands: %s", rooms, elapsed.Round(time.Millisecond), top(d))
}
