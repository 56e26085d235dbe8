package ackpending_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// env is one isolated deployment on the test services: a broker with its
// own key prefix and offline grace, a fresh MySQL database, an FCM
// emulator with a service account, presence and devices.
type env struct {
	t        testing.TB
	b        *broker.Broker
	rdb      redis.UniversalClient
	db       *sql.DB
	dbName   string
	q        *rcpdb.Queries
	emu      *fcmtest.Emulator
	sa       string
	prefix   string
	presence *ackpending.Presence
	devices  *ackpending.Devices
	cfg      ackpending.Config
}

func newEnv(t testing.TB, grace time.Duration, partitions int) *env {
	t.Helper()
	url := os.Getenv("RCP_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("RCP_TEST_REDIS_URL is not set: run the tests with `make test`, which starts Redis")
	}
	rdb, err := broker.Dial(url, partitions)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	bcfg := broker.DefaultConfig()
	bcfg.Partitions, bcfg.Prefix, bcfg.OfflineGrace = partitions, brokertest.Prefix(), grace
	b := broker.New(rdb, bcfg)
	ctx := context.Background()
	if err := b.LoadFunctions(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.LoadLibrary(ctx, ackpending.Library); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { brokertest.DeleteAll(t, b) })
	db, name := queriestest.NewEmptyDB(t)
	if err := queries.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, b: b, rdb: rdb, db: db, dbName: name, q: rcpdb.New(db), emu: fcmtest.New(t), prefix: bcfg.Prefix}
	e.sa = e.emu.ServiceAccountFile(t, t.TempDir())
	log := testLogger(t)
	e.presence = ackpending.NewPresence(rdb, ackpending.PresenceConfig{Prefix: e.prefix, TTL: 2 * time.Second, Logger: log})
	e.devices = ackpending.NewDevices(db, rdb, ackpending.DevicesConfig{Prefix: e.prefix})
	e.cfg = ackpending.DefaultConfig()
	e.cfg.Prefix, e.cfg.Partitions, e.cfg.OfflineGrace = e.prefix, partitions, grace
	e.cfg.Lease, e.cfg.Poll, e.cfg.Logger = 5*time.Second, 50*time.Millisecond, log
	return e
}

func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// sender is the real FCM sender on the emulator.
func (e *env) sender() ackpending.Sender {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := ackpending.NewFCMSender(ctx, ackpending.FCMConfig{Credentials: e.sa, Endpoint: e.emu.Endpoint()})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// start runs an escalator with cfg until the test ends (or stop is called).
func (e *env) start(cfg ackpending.Config) (stop func()) {
	esc := ackpending.NewEscalator(e.rdb, e.db, e.devices, e.sender(), cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); esc.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

// room makes users members of room.
func (e *env) room(id string, users ...string) {
	e.t.Helper()
	for _, u := range users {
		if _, err := e.b.Join(context.Background(), id, u); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) device(user, token string) {
	e.t.Helper()
	if _, err := e.devices.Register(context.Background(), user, token, "android"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) send(room, sender, text string) broker.SendResult {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	res, err := e.b.Send(context.Background(), broker.SendRequest{Room: room, Sender: sender, Type: "text", Body: body})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) pending(room, user string) []broker.PendingEntry {
	e.t.Helper()
	ps, err := e.b.Pending(context.Background(), room, user, "", 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	return ps
}

// deliveries lists the delivery counts of user's pending entries in room.
func (e *env) deliveries(room, user string) []int64 {
	var out []int64
	for _, p := range e.pending(room, user) {
		out = append(out, p.Deliveries)
	}
	return out
}

// dueScore is the room's score in the due schedule, -1 when absent.
func (e *env) dueScore(room string) int64 {
	e.t.Helper()
	s, err := e.rdb.ZScore(context.Background(), e.b.KeysFor(room).Due(), room).Result()
	if err == redis.Nil {
		return -1
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return int64(s)
}

// forToken keeps the requests of one device token.
func forToken(rs []fcmtest.Request, token string) []fcmtest.Request {
	var out []fcmtest.Request
	for _, r := range rs {
		if r.Message.Token == token {
			out = append(out, r)
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// waitDeliveries waits until user's delivery counts in room are want (the
// escalator records a push right after FCM accepted it).
func (e *env) waitDeliveries(room, user string, want ...int64) {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := e.deliveries(room, user)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s's delivery counts in %s: %v, want %v", user, room, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
