package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/cmd/rcpd/rcpdtest"
	"github.com/rcp/rcp/gateway"
)

// e2ePartitions must match RCP_PARTITIONS in env.start.
const e2ePartitions = 4

// mintToken is token for any goroutine.
func mintToken(user string, ttl time.Duration) (string, error) {
	return gateway.MintHS256([]byte(testSecret), user, nil, ttl)
}

// ledger reads the env's Redis keys directly, as an operator with
// redis-cli would.
type ledger struct {
	t      *testing.T
	rdb    redis.UniversalClient
	prefix string
}

// ledger connects to the env's Redis (or Redis Cluster) as rcpd does.
func (e *env) ledger() *ledger {
	e.t.Helper()
	rdb, err := broker.Dial(e.RedisURL, e2ePartitions)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { rdb.Close() })
	return &ledger{t: e.t, rdb: rdb, prefix: e.Prefix}
}

// roomKey is the room's stream key: <prefix>:{pN}:room:<room>.
func (l *ledger) roomKey(room string) string {
	return broker.Keys{Prefix: l.prefix, Partition: broker.Partition(room, e2ePartitions)}.Room(room)
}

func ctxWait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), frameWait)
}

// pending lists the ids XPENDING shows for user's group, oldest first.
func (l *ledger) pending(room, user string) []string {
	l.t.Helper()
	ctx, cancel := ctxWait()
	defer cancel()
	ps, err := l.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: l.roomKey(room), Group: broker.Group(user),
		Start: "-", End: "+", Count: 100_000}).Result()
	if err != nil {
		l.t.Fatalf("XPENDING %s %s: %v", l.roomKey(room), broker.Group(user), err)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// waitPending polls XPENDING until it lists exactly want.
func (l *ledger) waitPending(room, user string, want []string) {
	l.t.Helper()
	deadline := time.Now().Add(frameWait)
	for {
		got := l.pending(room, user)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("XPENDING %s for %s:\n got  %v\n want %v", room, user, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (l *ledger) xlen(room string) int64 {
	l.t.Helper()
	ctx, cancel := ctxWait()
	defer cancel()
	n, err := l.rdb.XLen(ctx, l.roomKey(room)).Result()
	if err != nil {
		l.t.Fatalf("XLEN %s: %v", l.roomKey(room), err)
	}
	return n
}

func (l *ledger) entries(room string) []redis.XMessage {
	l.t.Helper()
	ctx, cancel := ctxWait()
	defer cancel()
	ms, err := l.rdb.XRange(ctx, l.roomKey(room), "-", "+").Result()
	if err != nil {
		l.t.Fatalf("XRANGE %s: %v", l.roomKey(room), err)
	}
	return ms
}

// redisProc is a private redis-server (RCP_TEST_REDIS_BIN) a test may stop
// and restart: AOF with appendfsync always, so every reply it sent is on
// disk.
type redisProc struct {
	t    *testing.T
	bin  string
	dir  string
	addr string

	log rcpdtest.SyncBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t *testing.T) *redisProc {
	t.Helper()
	bin := os.Getenv("RCP_TEST_REDIS_BIN")
	if bin == "" {
		t.Fatal("RCP_TEST_REDIS_BIN must name redis-server: run the tests with `make test`")
	}
	r := &redisProc{t: t, bin: bin, dir: t.TempDir(), addr: rcpdtest.FreeAddr(t)}
	r.start()
	t.Cleanup(func() { r.stop(syscall.SIGKILL) })
	return r
}

func (r *redisProc) url() string { return "redis://" + r.addr + "/0" }

// start runs redis-server and waits until it answers PING.
func (r *redisProc) start() {
	r.t.Helper()
	_, port, _ := strings.Cut(r.addr, ":")
	cmd := exec.Command(r.bin, "--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = &r.log, &r.log
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start %s: %v", r.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	rdb := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			r.t.Fatalf("redis-server exited during start:\n%s", r.output())
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s not answering within 10s: %v\n%s", r.addr, err, r.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisProc) output() string { return r.log.String() }

// stop signals redis-server and waits for it to exit.
func (r *redisProc) stop(sig syscall.Signal) error {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	select {
	case <-done:
		return nil
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server did not exit on %v within 10s", sig)
	}
}
