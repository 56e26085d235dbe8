package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/stomp/wsnet"
)

// TestClientCost measures what one subscriber costs the benchmark process
// with this package's lean client and with go-stomp over wsnet: memory and
// goroutines per connection, CPU per delivery (200 subscribers of one room,
// client-individual acks). It only reports (docs/benchmarks.md); opt in with
// RCPBENCH_CLIENT_COST=1 because it takes about a minute.
func TestClientCost(t *testing.T) {
	if os.Getenv("RCPBENCH_CLIENT_COST") != "1" {
		t.Skip("opt-in measurement: RCPBENCH_CLIENT_COST=1")
	}
	s := startRcpd(t, "RCP_SEND_RATE=100000", "RCP_SEND_BURST=1000")
	for _, kind := range []string{"lean", "go-stomp"} {
		mem, gor, cpu := clientCost(t, s, kind, 200, 300)
		t.Logf("%-8s %6.1f KiB heap+stack per connection, %.1f goroutines per connection, %5.1f µs CPU per delivery",
			kind, mem/1024, gor, cpu)
	}
}

// clientCost connects n subscribers of one new room, then sends msgs
// messages from a lean client (not subscribed) and waits for every delivery.
func clientCost(t *testing.T, s *server, kind string, n, msgs int) (memPerConn, goroutinesPerConn, cpuPerDelivery float64) {
	c := &config{URL: "ws://" + s.addr + "/ws", API: "http://" + s.addr, Secret: testSecret,
		RunID: fmt.Sprintf("%s%d", kind[:2], time.Now().UnixNano()%1e6),
		Rooms: 1, Members: n + 1, CreateAPI: 1, Window: 50, Ack: "client-individual", Size: 64}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createRooms(ctx, c); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(msgs, 1)
	tr.expected[0] = int32(n)
	var gs atomic.Int64 // go-stomp deliveries
	m0, g0 := memNow(), runtime.NumGoroutine()
	var closers []func()
	for m := 1; m <= n; m++ {
		if kind == "lean" {
			cl := leanClient(t, c, m, tr, true)
			closers = append(closers, func() { cl.ws.Close() })
		} else {
			closers = append(closers, goStompSubscriber(t, c, m, &gs))
		}
	}
	defer func() {
		for _, f := range closers {
			f()
		}
	}()
	memPerConn = float64(memNow()-m0) / float64(n)
	goroutinesPerConn = float64(runtime.NumGoroutine()-g0) / float64(n)

	sender := leanClient(t, c, 0, tr, false)
	defer sender.ws.Close()
	cpu0 := cpuNow()
	for range msgs {
		if err := sender.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		id, _ := tr.take(0)
		if err := sender.send(c.dest(0), makeBody(id, tr.now(), c.Size), id, true); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(n * msgs)
	for tr.delivered.Load()+gs.Load() < want && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if got := tr.delivered.Load() + gs.Load(); got != want {
		t.Fatalf("%s: %d of %d deliveries", kind, got, want)
	}
	return memPerConn, goroutinesPerConn, (cpuNow() - cpu0) * 1e6 / float64(want)
}

// leanClient connects member m with this package's client, subscribed or
// not, its reader counting into tr.
func leanClient(t *testing.T, c *config, m int, tr *tracker, subscribe bool) *client {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _ := gateway.MintHS256([]byte(c.Secret), c.userID(0, m), nil, time.Hour)
	cl, err := dial(ctx, c.URL, c.userID(0, m), tok, m, 0, c.Window, 0)
	if err == nil && subscribe {
		err = cl.subscribe(ctx, c.topic(0), c.Ack)
	}
	if err != nil {
		t.Fatal(err)
	}
	go cl.readLoop(tr, c.Ack)
	return cl
}

func goStompSubscriber(t *testing.T, c *config, m int, got *atomic.Int64) func() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, _ := gateway.MintHS256([]byte(c.Secret), c.userID(0, m), nil, time.Hour)
	nc, err := wsnet.Dial(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := gostomp.Connect(nc, gostomp.ConnOpt.Header("Authorization", "Bearer "+tok), gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	sub, err := conn.Subscribe(c.topic(0), gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for msg := range sub.C {
			if msg.Err != nil {
				return
			}
			got.Add(1)
			conn.Ack(msg)
		}
	}()
	return func() { conn.MustDisconnect(); wg.Wait() }
}

func memNow() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}

func cpuNow() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
