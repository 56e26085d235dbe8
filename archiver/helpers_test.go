package archiver_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// env is a broker on the test Redis (own key prefix) and a fresh database.
type env struct {
	t   testing.TB
	b   *broker.Broker
	db  *sql.DB
	q   *rcpdb.Queries
	log *syncBuffer // the archiver's log, JSON lines
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, queriestest.NewDB(t))
}

func newEnvOn(t testing.TB, db *sql.DB) *env {
	t.Helper()
	b := brokertest.New(t)
	if err := archiver.LoadFunctions(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, b: b, db: db, q: rcpdb.New(db), log: &syncBuffer{}}
}

// archiver returns an archiver with cfg, logging into e.log.
func (e *env) archiver(cfg archiver.Config) *archiver.Archiver {
	cfg.Logger = slog.New(slog.NewJSONHandler(e.log, nil))
	return archiver.New(e.b, e.db, cfg)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the logged records whose msg contains substr.
func (s *syncBuffer) lines(substr string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(fmt.Sprint(m["msg"]), substr) {
			out = append(out, m)
		}
	}
	return out
}

// fill appends n entries to room in the format rcp_send writes (fields s, t,
// b, n, p; heads updated), with explicit ids from startMs, stepMs apart.
// Every member's group (created at the start if missing) gets the entries
// pending, except the sender's, which are acknowledged — as sends would.
func (e *env) fill(room, sender string, members []string, n int, startMs, stepMs int64) []string {
	e.t.Helper()
	ctx := context.Background()
	rdb, k := e.b.Redis(), e.b.KeysFor(room)
	for _, m := range members {
		if _, err := e.b.Join(ctx, room, m); err != nil {
			e.t.Fatal(err)
		}
	}
	prev, seq := head(e.t, e.b, room)
	ids := make([]string, n)
	pipe := rdb.Pipeline()
	for i := range n {
		seq++
		ids[i] = fmt.Sprintf("%d-%d", startMs+int64(i)*stepMs, 0)
		values := []any{"s", sender, "t", "text", "b", body(room, seq), "n", strconv.FormatInt(seq, 10)}
		if prev != "" {
			values = append(values, "p", prev)
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Room(room), ID: ids[i], Values: values})
		prev = ids[i]
	}
	pipe.HSet(ctx, k.Heads(), room, prev+" "+strconv.FormatInt(seq, 10))
	for _, m := range members {
		pipe.XReadGroup(ctx, &redis.XReadGroupArgs{Group: broker.Group(m), Consumer: broker.Group(m),
			Streams: []string{k.Room(room), ">"}, Count: int64(n)})
	}
	pipe.XAck(ctx, k.Room(room), broker.Group(sender), ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		e.t.Fatalf("fill %s: %v", room, err)
	}
	return ids
}

func head(t testing.TB, b *broker.Broker, room string) (string, int64) {
	t.Helper()
	h, err := b.Heads(context.Background(), []string{room})
	if err != nil {
		t.Fatal(err)
	}
	return h[room].ID, h[room].Seq
}

func body(room string, seq int64) string {
	return fmt.Sprintf(`{"type":"text","text":"%s message %d"}`, room, seq)
}

// daysAgo is Unix ms d days before now.
func daysAgo(d float64) int64 {
	return time.Now().Add(-time.Duration(d * float64(24*time.Hour))).UnixMilli()
}

// streamLen is XLEN of the room's stream.
func (e *env) streamLen(room string) int64 {
	e.t.Helper()
	n, err := e.b.Redis().XLen(context.Background(), e.b.KeysFor(room).Room(room)).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// rows returns the room's archived messages in stream order.
func (e *env) rows(room string) []rcpdb.Message {
	e.t.Helper()
	ms, err := e.q.ListMessagesAfter(context.Background(), rcpdb.ListMessagesAfterParams{RoomID: room, Limit: 1 << 30})
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func rowID(m rcpdb.Message) string { return fmt.Sprintf("%d-%d", m.IDMs, m.IDSeq) }

func (e *env) pendingCount(room, user string) int64 {
	e.t.Helper()
	s, err := e.b.Redis().XPending(context.Background(), e.b.KeysFor(room).Room(room), broker.Group(user)).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return s.Count
}
