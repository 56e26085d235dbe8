package ackpending_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/broker"
)

// BenchmarkBurst10k: 10,000 offline members (10 per room, one device
// each) across 1,000 rooms, a burst of 10,000 messages (10 per room, from
// an 11th member). It reports the time from the burst's start until FCM
// (the emulator) accepted a push announcing every member's newest message,
// and the Redis commands per push (INFO commandstats deltas, commands run
// inside Functions included; and commands the escalator's client sent).
// Run: go test -run '^$' -bench Burst10k -benchtime 1x ./ackpending/
func BenchmarkBurst10k(b *testing.B) {
	// grace=2s: escalation overlaps the burst (members are pushed again as
	// messages keep coming). grace=30s: the burst is over before the first
	// room is due, which isolates escalation's own throughput and cost.
	// warm: the device caches are filled before the burst (steady state).
	for _, tc := range []struct {
		grace time.Duration
		warm  bool
	}{{2 * time.Second, false}, {30 * time.Second, false}, {30 * time.Second, true}} {
		name := fmt.Sprintf("grace=%v,warm=%v", tc.grace, tc.warm)
		b.Run(name, func(b *testing.B) { benchBurst(b, 1000, 10, tc.grace, tc.warm) })
	}
}

func benchBurst(b *testing.B, rooms, perRoom int, grace time.Duration, warm bool) {
	for range b.N {
		e := newEnv(b, grace, 16)
		setupBurst(b, e, rooms, perRoom)
		if warm {
			warmDevices(b, e, rooms, perRoom)
		}
		counter := &cmdCounter{}
		escRDB, err := broker.Dial(os.Getenv("RCP_TEST_REDIS_URL"), 16)
		if err != nil {
			b.Fatal(err)
		}
		defer escRDB.Close()
		escRDB.AddHook(counter)
		cfg := e.cfg
		cfg.Poll, cfg.Lease = 250*time.Millisecond, 30*time.Second
		esc := ackpending.NewEscalator(escRDB, e.db, ackpending.NewDevices(e.db, escRDB, ackpending.DevicesConfig{Prefix: e.prefix}), e.sender(), cfg)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); esc.Run(ctx) }()

		s0 := commandStats(b, e.rdb)
		counter.n.Store(0)
		start := time.Now()
		last := burst(b, e, rooms, perRoom)
		burstEnd := time.Now()
		s1 := commandStats(b, e.rdb)
		c1 := counter.n.Load()
		lastAccept, pushes := waitAllPushed(b, e, last, perRoom)
		waitScheduleEmpty(b, e, 16)
		s2 := commandStats(b, e.rdb)
		c2 := counter.n.Load()
		cancel()
		wg.Wait()

		escCmds, sendCmds := sum(s2)-sum(s1), sum(s1)-sum(s0)
		b.ReportMetric(burstEnd.Sub(start).Seconds(), "burst-s")
		b.ReportMetric(lastAccept.Sub(start).Seconds(), "all-accepted-s")
		b.ReportMetric(lastAccept.Sub(start).Seconds()-grace.Seconds(), "after-grace-s")
		b.ReportMetric(lastAccept.Sub(burstEnd).Seconds(), "after-burst-s")
		b.ReportMetric(float64(pushes), "pushes")
		b.ReportMetric(float64(escCmds)/float64(pushes), "redis-cmds/push")
		b.ReportMetric(float64(c2-c1)/float64(pushes), "client-cmds/push")
		b.Logf("burst %v; every push accepted %v after the burst began, %v after it ended (grace %v); %d pushes; "+
			"escalation: %d Redis commands (%.1f/push), client sent %d (%.1f/push); sends: %d commands (%.1f/message)\n"+
			"escalation commandstats delta: %s",
			burstEnd.Sub(start).Round(time.Millisecond), lastAccept.Sub(start).Round(time.Millisecond),
			lastAccept.Sub(burstEnd).Round(time.Millisecond), grace, pushes,
			escCmds, float64(escCmds)/float64(pushes), c2-c1, float64(c2-c1)/float64(pushes),
			sendCmds, float64(sendCmds)/float64(rooms*perRoom), top(delta(s2, s1)))
	}
}

// setupBurst creates the rooms, memberships and devices.
func setupBurst(b *testing.B, e *env, rooms, perRoom int) {
	b.Helper()
	ctx := context.Background()
	var rows []string
	for r := range rooms {
		for m := range perRoom {
			rows = append(rows, fmt.Sprintf("('tok-u%d-%d','u%d-%d','android',NOW(3))", r, m, r, m))
		}
	}
	for len(rows) > 0 {
		n := min(len(rows), 1000)
		if _, err := e.db.ExecContext(ctx, "INSERT INTO devices (token, user_id, platform, updated_at) VALUES "+strings.Join(rows[:n], ",")); err != nil {
			b.Fatal(err)
		}
		rows = rows[n:]
	}
	parallel(b, rooms, func(r int) error {
		for m := -1; m < perRoom; m++ {
			user := fmt.Sprintf("u%d-%d", r, m)
			if m < 0 {
				user = fmt.Sprintf("s%d", r)
			}
			if _, err := e.b.Join(ctx, fmt.Sprintf("room%d", r), user); err != nil {
				return err
			}
		}
		return nil
	})
}

func warmDevices(b *testing.B, e *env, rooms, perRoom int) {
	b.Helper()
	parallel(b, rooms, func(r int) error {
		users := make([]string, perRoom)
		for m := range users {
			users[m] = fmt.Sprintf("u%d-%d", r, m)
		}
		_, err := e.devices.Tokens(context.Background(), users)
		return err
	})
}

// burst sends perRoom messages to every room, 32 at a time; it returns each
// room's last stream id.
func burst(b *testing.B, e *env, rooms, perRoom int) []string {
	last := make([]string, rooms)
	var mu sync.Mutex
	parallel(b, rooms*perRoom, func(i int) error {
		r := i % rooms
		res, err := e.b.Send(context.Background(), broker.SendRequest{Room: fmt.Sprintf("room%d", r),
			Sender: fmt.Sprintf("s%d", r), Type: "text", Body: []byte(`{"type":"text","text":"burst"}`)})
		if err != nil {
			return err
		}
		mu.Lock()
		if last[r] == "" || idLess(last[r], res.ID) {
			last[r] = res.ID
		}
		mu.Unlock()
		return nil
	})
	return last
}

func idLess(a, b string) bool {
	x, _ := broker.ParseID(a)
	y, _ := broker.ParseID(b)
	return x.Less(y)
}

func parallel(b *testing.B, n int, fn func(int) error) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// waitAllPushed polls the emulator until every member's token got an
// accepted push announcing its room's last message.
func waitAllPushed(b *testing.B, e *env, last []string, perRoom int) (time.Time, int) {
	b.Helper()
	want := len(last) * perRoom
	done := make(map[string]bool, want)
	seen, pushes := 0, 0
	var lastAt time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for len(done) < want {
		if time.Now().After(deadline) {
			for r := range last {
				for m := range perRoom {
					tok := fmt.Sprintf("tok-u%d-%d", r, m)
					if done[tok] {
						continue
					}
					room, user := fmt.Sprintf("room%d", r), fmt.Sprintf("u%d-%d", r, m)
					var got []string
					for _, q := range forToken(e.emu.Requests(), tok) {
						got = append(got, fmt.Sprintf("%s/%s/%d", q.Message.Data["newest"], q.Message.Data["new"], q.Status))
					}
					cur := e.rdb.HGet(context.Background(), ackpending.PushedKey(e.b.KeysFor(room), room), user).Val()
					b.Logf("%s in %s: last %s, cursor %s, due %d, pending %v, pushes %v", user, room, last[r], cur,
						e.dueScore(room), e.pending(room, user), got)
				}
			}
			b.Fatalf("%d of %d members pushed their newest message within 3 min", len(done), want)
		}
		time.Sleep(50 * time.Millisecond)
		rs := e.emu.Requests()
		for ; seen < len(rs) && rs[seen].Status != 0; seen++ { // 0: not answered yet
			r := rs[seen]
			if r.Status != 200 {
				continue
			}
			pushes++
			if r.At.After(lastAt) {
				lastAt = r.At
			}
			var room, m int
			fmt.Sscanf(r.Message.Token, "tok-u%d-%d", &room, &m)
			if r.Message.Data["newest"] == last[room] {
				done[r.Message.Token] = true
			}
		}
	}
	return lastAt, pushes
}

func waitScheduleEmpty(b *testing.B, e *env, partitions int) {
	b.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n := int64(0)
		for p := range partitions {
			n += e.rdb.ZCard(context.Background(), broker.Keys{Prefix: e.prefix, Partition: p}.Due()).Val()
		}
		if n == 0 {
			return
		}
	}
	b.Fatal("due schedules not empty within a minute")
}

// commandStats reads INFO commandstats: command → calls.
func commandStats(b *testing.B, rdb redis.UniversalClient) map[string]int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		out[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(calls, 10, 64)
	}
	return out
}

func sum(m map[string]int64) int64 {
	var n int64
	for k, v := range m {
		if k != "info" {
			n += v
		}
	}
	return n
}

func delta(a, b map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range a {
		if d := v - b[k]; d > 0 && k != "info" {
			out[k] = d
		}
	}
	return out
}

func top(m map[string]int64) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	return strings.Join(parts, " ")
}

// cmdCounter is a go-redis hook counting the commands a client sends.
type cmdCounter struct{ n atomic.Int64 }

func (c *cmdCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *cmdCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *cmdCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}
