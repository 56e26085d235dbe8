package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
)

// runBench runs rcpbench in process against s and decodes its JSON line.
func runBench(t *testing.T, s *server, args ...string) report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	args = append([]string{"--url", "ws://" + s.addr + "/ws", "--jwt-secret", testSecret, "--quiet"}, args...)
	if err := run(ctx, args, &out); err != nil {
		t.Fatalf("rcpbench: %v\nrcpd:\n%s", err, s.log)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rep report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not the JSON report: %v\n%s", err, out.String())
	}
	if !strings.HasPrefix(lines[0], "scenario ") {
		t.Fatalf("text report missing:\n%s", out.String())
	}
	return rep
}

// pendingLeft sums XPENDING over every member of the run's rooms.
func pendingLeft(t *testing.T, s *server, runID string, rooms, members int) int64 {
	t.Helper()
	rdb, err := broker.Dial(s.redisURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cfg := broker.DefaultConfig()
	cfg.Prefix, cfg.Partitions = s.prefix, 4
	b := broker.New(rdb, cfg)
	c := config{RunID: runID}
	var n int64
	for r := range rooms {
		for m := range members {
			ps, err := b.Pending(context.Background(), c.roomID(r), c.userID(r, m), "", 1000)
			if err != nil {
				t.Fatal(err)
			}
			n += int64(len(ps))
		}
	}
	return n
}

func TestBenchAgainstRcpd(t *testing.T) {
	s := startRcpd(t)
	rep := runBench(t, s, "--run-id", "t1", "--rooms", "2", "--members", "2", "--messages", "50",
		"--rate", "200", "--duration", "20s", "--window", "4")
	want := report{Rooms: 2, Members: 2, Conns: 4, Senders: 4, Rate: 200, Receipts: true, Window: 4,
		Ack: "client-individual", Offered: 50, Sent: 50, Receipted: 50, Expected: 100, Delivered: 100, Acks: 100}
	got := rep
	got.Errors, got.SetupSeconds, got.SendSeconds, got.SendsPerSec, got.DeliveriesPerSec = nil, 0, 0, 0, 0
	got.Latency, got.Receipt, got.Lag, got.Resources, got.PeakRSS = summary{}, summary{}, summary{}, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) || len(rep.Errors) != 0 {
		t.Fatalf("report\n%+v\nwant\n%+v\nerrors %v\nrcpd:\n%s", got, want, rep.Errors, s.log)
	}
	if rep.PeakRSS["rcpbench"] <= 0 {
		t.Fatalf("peak RSS of rcpbench not sampled: %v", rep.PeakRSS)
	}
	if rep.Latency.Count != 100 || rep.Receipt.Count != 50 || rep.Lag.Count != 50 || rep.Latency.Max <= 0 {
		t.Fatalf("latency %+v receipt %+v lag %+v", rep.Latency, rep.Receipt, rep.Lag)
	}
	if n := pendingLeft(t, s, "t1", 2, 2); n != 0 {
		t.Fatalf("%d entries still pending after every delivery was acknowledged", n)
	}
}

func TestBenchClosedLoopAutoAck(t *testing.T) {
	s := startRcpd(t, "RCP_SEND_RATE=100000", "RCP_SEND_BURST=1000") // the rate limit is not under test
	rep := runBench(t, s, "--run-id", "t2", "--rooms", "1", "--members", "5", "--senders", "1",
		"--messages", "200", "--rate", "0", "--window", "20", "--ack", "auto")
	if rep.Senders != 1 || rep.Offered != 0 || rep.Sent != 200 || rep.Receipted != 200 || rep.Expected != 1000 ||
		rep.Delivered != 1000 || rep.Lost != 0 || rep.Duplicates != 0 || rep.Unexpected != 0 || rep.Acks != 0 ||
		rep.ConnsClosed != 0 || len(rep.Errors) != 0 {
		t.Fatalf("report %+v\nrcpd:\n%s", rep, s.log)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pendingLeft(t, s, "t2", 1, 5) != 0 { // auto acks are pipelined after the write
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still pending 5s after auto-acknowledged deliveries", pendingLeft(t, s, "t2", 1, 5))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
