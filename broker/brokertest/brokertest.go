// Package brokertest gives tests a broker on the real test Redis
// (RCP_TEST_REDIS_URL, started by make test) with a key prefix of its own,
// so tests never see each other's keys.
package brokertest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

var seq atomic.Int64

// Prefix returns a key prefix no other test uses.
func Prefix() string {
	return fmt.Sprintf("t%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9, seq.Add(1))
}

// New returns a broker with 4 partitions and its functions loaded. It fails
// the test when RCP_TEST_REDIS_URL is unset: these tests need a real Redis.
func New(t testing.TB) *broker.Broker { return NewWith(t, nil) }

// NewWith is New with the configuration adjusted by tune (if not nil)
// before the broker is made.
func NewWith(t testing.TB, tune func(*broker.Config)) *broker.Broker {
	t.Helper()
	rdb, err := broker.Dial(URL(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cfg := broker.DefaultConfig()
	cfg.Partitions = 4
	cfg.Prefix = Prefix()
	if tune != nil {
		tune(&cfg)
	}
	b := broker.New(rdb, cfg)
	if err := b.LoadFunctions(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// URL is RCP_TEST_REDIS_URL; the test fails when it is unset.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("RCP_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("RCP_TEST_REDIS_URL is not set: run the tests with `make test`, which starts Redis")
	}
	return url
}

// DeleteAll removes every key of the broker's prefix, on every primary of a
// Cluster, as if Redis had lost this deployment's data.
func DeleteAll(t testing.TB, b *broker.Broker) {
	t.Helper()
	ctx := context.Background()
	pattern := b.Prefix() + ":*"
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 200).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := b.Redis().(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, del)
	case *redis.Client:
		err = del(ctx, c)
	default:
		err = fmt.Errorf("unsupported client %T", c)
	}
	if err != nil {
		t.Fatalf("delete keys %s: %v", pattern, err)
	}
}

// RedisCPU is Redis's used_cpu_sys + used_cpu_user (INFO cpu; on a Cluster,
// of the node that answers INFO), for benchmarks that report Redis CPU.
func RedisCPU(tb testing.TB, rdb redis.UniversalClient) time.Duration {
	tb.Helper()
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// SelfCPU is this process's user + system CPU time.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
