package main_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/cmd/rcpd/rcpdtest"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// archiveCheck compares what MySQL and the streams hold with what was sent.
type archiveCheck struct {
	t     *testing.T
	b     *broker.Broker
	q     *rcpdb.Queries
	rooms []string
}

// account lists each room's ids in MySQL and, after them, those only in
// the stream, and a checksum over (room, id, body) of that union.
func (c archiveCheck) account() (map[string][]string, [32]byte, int) {
	c.t.Helper()
	ctx := context.Background()
	h := sha256.New()
	out := map[string][]string{}
	rows := 0
	for _, r := range c.rooms {
		ms, err := c.q.ListMessagesAfter(ctx, rcpdb.ListMessagesAfterParams{RoomID: r, Limit: 1 << 30})
		if err != nil {
			c.t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, m := range ms {
			id := fmt.Sprintf("%d-%d", m.IDMs, m.IDSeq)
			if m.Seq != uint64(i+1) {
				c.t.Fatalf("%s: row %d has seq %d: a gap or a duplicate", r, i, m.Seq)
			}
			seen[id] = true
			out[r] = append(out[r], id)
			fmt.Fprintf(h, "%s %s %s\n", r, id, m.Body)
		}
		rows += len(ms)
		hot, err := c.b.Range(ctx, r, "", 1<<30)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, e := range hot {
			if !seen[e.ID] {
				out[r] = append(out[r], e.ID)
				fmt.Fprintf(h, "%s %s %s\n", r, e.ID, e.Body)
			}
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return out, sum, rows
}

// diff logs the bodies that differ from what was sent.
func (c archiveCheck) diff(bodies map[string]string) {
	ctx := context.Background()
	for _, r := range c.rooms {
		ms, _ := c.q.ListMessagesAfter(ctx, rcpdb.ListMessagesAfterParams{RoomID: r, Limit: 1 << 30})
		for _, m := range ms {
			id := fmt.Sprintf("%d-%d", m.IDMs, m.IDSeq)
			if string(m.Body) != bodies[r+" "+id] {
				c.t.Logf("mysql %s %s: %s want %s", r, id, m.Body, bodies[r+" "+id])
			}
		}
		hot, _ := c.b.Range(ctx, r, "", 1<<30)
		for _, e := range hot {
			if string(e.Body) != bodies[r+" "+e.ID] {
				c.t.Logf("redis %s %s: %s want %s", r, e.ID, e.Body, bodies[r+" "+e.ID])
			}
		}
	}
}

// checksum is account's checksum of what was sent (bodies by "room id").
func checksum(rooms []string, sent map[string][]string, bodies map[string]string) [32]byte {
	h := sha256.New()
	for _, r := range rooms {
		for _, id := range sent[r] {
			fmt.Fprintf(h, "%s %s %s\n", r, id, bodies[r+" "+id])
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// TestArchiverMySQLOutageLosesNothing: a private MariaDB is killed while
// rcpd archives a stream of sends; while it is down nothing more is
// trimmed; once it is back the archiver catches up; MySQL ends up with
// every message exactly once (count and checksum of the bodies).
func TestArchiverMySQLOutageLosesNothing(t *testing.T) {
	srv := queriestest.StartServer(t)
	srv.NewDB("rcp")
	e := &env{t: t, Env: &rcpdtest.Env{RedisURL: os.Getenv("RCP_TEST_REDIS_URL"), DSN: srv.DatabaseDSN("rcp"),
		Prefix: fmt.Sprintf("e2e-outage-%d", time.Now().UnixNano()%1e9),
		Extra: []string{"RCP_HOT_WINDOW=1s", "RCP_LEDGER_MAX_AGE=2s", "RCP_ARCHIVE_INTERVAL=100ms",
			"RCP_SEND_RATE=5000", "RCP_SEND_BURST=5000"}}}
	if e.RedisURL == "" {
		t.Fatal("RCP_TEST_REDIS_URL is not set: run the tests with `make test`")
	}
	n := e.start()
	b := e.broker()
	rooms := []string{"o0", "o1", "o2", "o3", "o4", "o5"}
	for _, r := range rooms {
		n.createRoom(r, "alice", "bob")
	}
	alice := n.rawConnect("alice")
	var (
		mu     sync.Mutex
		sent   = map[string][]string{}
		bodies = map[string]string{}
		count  int
	)
	sendSome := func(k int) {
		for range k {
			r := rooms[count%len(rooms)]
			s := sendText(t, alice, r, "outage "+strconv.Itoa(count))
			mu.Lock()
			sent[r] = append(sent[r], s.id)
			bodies[r+" "+s.id] = storedText(s.text)
			count++
			mu.Unlock()
		}
	}
	sendSome(600)
	q := rcpdb.New(e.db())
	waitUntil(t, 30*time.Second, "archiving under way", func() bool {
		n, _ := q.CountRoomMessages(context.Background(), rooms[0])
		return n > 20
	})
	srv.Kill()
	t.Log("MariaDB killed")
	time.Sleep(500 * time.Millisecond) // a batch in flight ends
	// trimmed counts what left each stream: the seq before its first entry
	// (the head's seq when the stream is empty).
	trimmed := func() []int64 {
		var out []int64
		for _, r := range rooms {
			hot, _ := b.Range(context.Background(), r, "", 1)
			if len(hot) > 0 {
				out = append(out, hot[0].Seq-1)
				continue
			}
			h, _ := b.Heads(context.Background(), []string{r})
			out = append(out, h[r].Seq)
		}
		return out
	}
	before := trimmed()
	sendSome(600) // sends need Redis only
	time.Sleep(3 * time.Second)
	if after := trimmed(); !slices.Equal(before, after) {
		t.Fatalf("streams trimmed while MySQL was down: entries trimmed per room %v → %v", before, after)
	}
	srv.Start()
	t.Log("MariaDB back")
	chk := archiveCheck{t: t, b: b, q: rcpdb.New(e.db()), rooms: rooms}
	got, sum, _ := chk.account()
	for _, r := range rooms {
		if !slices.Equal(got[r], sent[r]) {
			t.Fatalf("%s right after the outage: %d ids in MySQL or Redis, want the %d sent", r, len(got[r]), len(sent[r]))
		}
	}
	if sum != checksum(rooms, sent, bodies) {
		chk.diff(bodies)
		t.Fatal("checksum of MySQL ∪ Redis differs from what was sent")
	}
	waitUntil(t, 60*time.Second, "archiver caught up", func() bool {
		_, _, rows := chk.account()
		return rows == count
	})
	got, sum, rows := chk.account()
	if rows != 1200 || sum != checksum(rooms, sent, bodies) {
		t.Fatalf("after catching up: %d rows, checksum equal %v", rows, sum == checksum(rooms, sent, bodies))
	}
	for _, r := range rooms {
		if !slices.Equal(got[r], sent[r]) {
			t.Fatalf("%s: %v", r, got[r])
		}
	}
	waitUntil(t, 30*time.Second, "streams trimmed", func() bool {
		for _, r := range rooms {
			if n, _ := b.Redis().XLen(context.Background(), b.KeysFor(r).Room(r)).Result(); n != 0 {
				return false
			}
		}
		return true
	})
}

// fillStreams appends n entries per room in the format rcp_send writes
// (fields s, t, b, n, p; the heads hash), with ids from startMs, and
// returns the ids and the bodies by "room id".
func fillStreams(t *testing.T, b *broker.Broker, rooms []string, n int, startMs int64) (map[string][]string, map[string]string) {
	t.Helper()
	ctx := context.Background()
	ids, bodies := map[string][]string{}, map[string]string{}
	for ri, r := range rooms {
		k := b.KeysFor(r)
		pipe := b.Redis().Pipeline()
		prev := ""
		for i := range n {
			id := fmt.Sprintf("%d-%d", startMs+int64(i), ri)
			body := storedText(fmt.Sprintf("%s #%d", r, i+1))
			v := []any{"s", "alice", "t", "text", "b", body, "n", strconv.Itoa(i + 1)}
			if prev != "" {
				v = append(v, "p", prev)
			}
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: k.Room(r), ID: id, Values: v})
			ids[r], bodies[r+" "+id], prev = append(ids[r], id), body, id
		}
		pipe.HSet(ctx, k.Heads(), r, prev+" "+strconv.Itoa(n))
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return ids, bodies
}

// TestArchiverKilledMidBatchRestarts: `rcpd archiver` is killed (SIGKILL)
// while it drains 40,000 entries and started again: MySQL ends up with
// every entry once, sequence numbers without a gap, the same bodies.
func TestArchiverKilledMidBatchRestarts(t *testing.T) {
	e := newEnv(t)
	e.Extra = []string{"RCP_ARCHIVE_INTERVAL=100ms", "RCP_ARCHIVE_LEASE=1s", "RCP_ARCHIVE_WORKERS=2"}
	b := e.broker()
	rooms := make([]string, 20)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("k%02d", i)
	}
	sent, bodies := fillStreams(t, b, rooms, 2000, time.Now().Add(-10*24*time.Hour).UnixMilli())
	a := e.startArchiver()
	q := rcpdb.New(e.db())
	chk := archiveCheck{t: t, b: b, q: q, rooms: rooms}
	var atKill int
	waitUntil(t, 60*time.Second, "archiving under way", func() bool {
		_, _, atKill = chk.account()
		return atKill >= 4000
	})
	a.Kill(syscall.SIGKILL)
	got, sum, rows := chk.account()
	t.Logf("killed with %d of 40000 rows in MySQL (%d when the kill was decided)", rows, atKill)
	if rows >= 40000 {
		t.Fatal("the archiver finished before the kill; nothing was tested")
	}
	for _, r := range rooms {
		if !slices.Equal(got[r], sent[r]) {
			t.Fatalf("%s after the kill: %d ids in MySQL or Redis, want %d", r, len(got[r]), len(sent[r]))
		}
	}
	if sum != checksum(rooms, sent, bodies) {
		t.Fatal("checksum differs after the kill")
	}
	e.startArchiver()
	waitUntil(t, 120*time.Second, "restarted archiver drained everything", func() bool {
		_, _, rows = chk.account()
		return rows == 40000
	})
	got, sum, _ = chk.account()
	for _, r := range rooms {
		if !slices.Equal(got[r], sent[r]) || b.Redis().XLen(context.Background(), b.KeysFor(r).Room(r)).Val() != 0 {
			t.Fatalf("%s: %d ids, stream not empty or ids differ", r, len(got[r]))
		}
	}
	if sum != checksum(rooms, sent, bodies) {
		t.Fatal("checksum of the archive differs from what was written")
	}
	if !strings.Contains(a.Log.String(), "archiver started") {
		t.Fatalf("first archiver log:\n%s", a.Log)
	}
}
