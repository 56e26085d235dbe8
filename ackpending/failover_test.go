package ackpending_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/queries/queriestest"
)

// TestMain runs this test binary as an escalator node when the failover
// test starts it as a child process (RCP_ESC_CHILD=1).
func TestMain(m *testing.M) {
	if os.Getenv("RCP_ESC_CHILD") == "1" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "escalator child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is an escalator node configured by RCP_ESC_* variables; it runs
// until killed.
func runChild() error {
	ctx := context.Background()
	get := os.Getenv
	partitions, _ := strconv.Atoi(get("RCP_ESC_PARTITIONS"))
	lease, _ := time.ParseDuration(get("RCP_ESC_LEASE"))
	grace, _ := time.ParseDuration(get("RCP_ESC_GRACE"))
	rdb, err := broker.Dial(get("RCP_TEST_REDIS_URL"), partitions)
	if err != nil {
		return err
	}
	db, err := queries.Open(ctx, get("RCP_ESC_DSN"))
	if err != nil {
		return err
	}
	prefix := get("RCP_ESC_PREFIX")
	sender, err := ackpending.NewFCMSender(ctx, ackpending.FCMConfig{Credentials: get("RCP_ESC_SA"), Endpoint: get("RCP_ESC_ENDPOINT")})
	if err != nil {
		return err
	}
	cfg := ackpending.DefaultConfig()
	cfg.Prefix, cfg.Partitions, cfg.OfflineGrace, cfg.Lease, cfg.Poll = prefix, partitions, grace, lease, 50*time.Millisecond
	d := ackpending.NewDevices(db, rdb, ackpending.DevicesConfig{Prefix: prefix})
	fmt.Println("escalator child running")
	ackpending.NewEscalator(rdb, db, d, sender, cfg).Run(ctx)
	return nil
}

// startChild runs another escalator node as a process.
func startChild(t *testing.T, e *env, partitions int) (kill func(), log *bytes.Buffer) {
	t.Helper()
	cfg, err := mysql.ParseDSN(queriestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = e.dbName
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "RCP_ESC_CHILD=1", "RCP_ESC_PREFIX="+e.prefix, "RCP_ESC_DSN="+cfg.FormatDSN(),
		"RCP_ESC_SA="+e.sa, "RCP_ESC_ENDPOINT="+e.emu.Endpoint(), "RCP_ESC_PARTITIONS="+strconv.Itoa(partitions),
		"RCP_ESC_LEASE="+e.cfg.Lease.String(), "RCP_ESC_GRACE="+e.cfg.OfflineGrace.String())
	log = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
		})
	}
	t.Cleanup(kill)
	return kill, log
}

// TestCrashedNodesClaimsAreRetaken: node A (a process) claims rooms and is
// SIGKILLed while its pushes hang; node B takes A's rooms once the lease
// runs out. Every pending message is pushed, none twice successfully, and
// every pushed entry shows delivery count 2.
func TestCrashedNodesClaimsAreRetaken(t *testing.T) {
	const partitions = 4
	e := newEnv(t, 500*time.Millisecond, partitions)
	e.cfg.Lease = 6 * time.Second
	hold := make(chan struct{})
	e.emu.SetDefault(fcmtest.Reply{Hold: hold})

	newest := map[string]string{} // token → newest id of its room
	wave := func(name string) {
		for r := range 8 {
			room := fmt.Sprintf("%s-%d", name, r)
			users := []string{"alice"}
			for u := range 3 {
				users = append(users, fmt.Sprintf("%s-u%d", room, u))
			}
			e.room(room, users...)
			for _, u := range users[1:] {
				e.device(u, "tok-"+u)
			}
			e.send(room, "alice", "first")
			id := e.send(room, "alice", "second").ID
			for _, u := range users[1:] {
				newest["tok-"+u] = id
			}
		}
	}
	kill, childLog := startChild(t, e, partitions)
	wave("w1")
	e.emu.WaitFor(t, 10*time.Second, "node A pushing wave 1", func(rs []fcmtest.Request) bool { return len(rs) >= 8 })
	e.start(e.cfg) // node B
	wave("w2")
	e.emu.WaitFor(t, 5*time.Second, "pushes of wave 2", func(rs []fcmtest.Request) bool {
		for _, r := range rs {
			if r.Message.Data["room"] >= "w2" {
				return true
			}
		}
		return false
	})
	kill()
	time.Sleep(300 * time.Millisecond) // the emulator sees A's connections close
	close(hold)

	e.emu.WaitFor(t, 3*e.cfg.Lease, "a push of every newest message", func(rs []fcmtest.Request) bool {
		for tok, id := range newest {
			found := false
			for _, r := range rs {
				found = found || (r.Status == 200 && r.Message.Token == tok && r.Message.Data["newest"] == id)
			}
			if !found {
				return false
			}
		}
		return true
	})
	time.Sleep(e.cfg.Lease + time.Second) // any straggler would show now
	abandoned := 0
	for _, r := range e.emu.Requests() {
		if r.Status == fcmtest.Abandoned {
			abandoned++
		}
	}
	if abandoned == 0 {
		t.Fatalf("node A had no push in flight when killed; log:\n%s", childLog)
	}
	for tok := range newest {
		if rs := accepted(forToken(e.emu.Requests(), tok)); len(rs) != 1 {
			t.Fatalf("%s accepted %d times, want once", tok, len(rs))
		}
	}
	for tok := range newest {
		user := tok[len("tok-"):]
		room := user[:len(user)-len("-u0")]
		e.waitDeliveries(room, user, 2, 2)
	}
	t.Logf("%d requests, %d abandoned by the killed node, %d accepted", len(e.emu.Requests()), abandoned, len(e.emu.Accepted()))
}

func accepted(rs []fcmtest.Request) []fcmtest.Request {
	var out []fcmtest.Request
	for _, r := range rs {
		if r.Status == 200 {
			out = append(out, r)
		}
	}
	return out
}
