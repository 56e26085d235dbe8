package ackpending_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/broker"
)

type claimReply struct {
	now, leaseUntil, next int64
	rooms                 []string
}

func claimRooms(t *testing.T, e *env, due string, limit int, lease time.Duration) claimReply {
	t.Helper()
	res, err := e.rdb.FCall(t.Context(), "rcpesc_claim", []string{due}, limit, lease.Milliseconds()).Slice()
	if err != nil {
		t.Fatal(err)
	}
	c := claimReply{now: res[0].(int64), leaseUntil: res[1].(int64), next: res[2].(int64)}
	for i := 3; i < len(res); i += 2 {
		c.rooms = append(c.rooms, res[i].(string))
	}
	return c
}

func TestClaimTakesDueRoomsUnderALease(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	k := e.b.KeysFor("any")
	due := k.Due()
	now := time.Now().UnixMilli()
	e.rdb.ZAdd(t.Context(), due, redis.Z{Score: float64(now - 1000), Member: "r1"},
		redis.Z{Score: float64(now - 500), Member: "r2"}, redis.Z{Score: float64(now + 60_000), Member: "r3"})

	c := claimRooms(t, e, due, 1, time.Second)
	if !slices.Equal(c.rooms, []string{"r1"}) || c.leaseUntil != c.now+1000 {
		t.Fatalf("first claim %+v, want r1 leased for 1s", c)
	}
	if c.next != now-500 {
		t.Fatalf("next %d, want r2's %d", c.next, now-500)
	}
	if s := e.rdb.ZScore(t.Context(), due, "r1").Val(); int64(s) != c.leaseUntil {
		t.Fatalf("r1 score %v, want the lease end %d", s, c.leaseUntil)
	}
	first := c
	c = claimRooms(t, e, due, 10, time.Second)
	if !slices.Equal(c.rooms, []string{"r2"}) || c.next != first.leaseUntil {
		t.Fatalf("second claim %+v: want r2 only, next = r1's lease end %d", c, first.leaseUntil)
	}
	if c = claimRooms(t, e, due, 10, time.Second); len(c.rooms) != 0 {
		t.Fatalf("leased rooms claimed again: %+v", c)
	}
	// A claimer that died: the lease runs out and another takes the rooms.
	time.Sleep(1100 * time.Millisecond)
	c = claimRooms(t, e, due, 10, time.Second)
	slices.Sort(c.rooms)
	if !slices.Equal(c.rooms, []string{"r1", "r2"}) {
		t.Fatalf("after the lease: %+v, want r1 and r2", c)
	}
}

func TestDoneReschedulesOnlyUnderItsLease(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	k := e.b.KeysFor("r1")
	e.room("r1", "alice", "bob")
	head := e.send("r1", "alice", "x").ID
	keys := []string{k.Room("r1"), ackpending.PushedKey(k, "r1"), k.Due(), k.Heads()}
	e.rdb.ZAdd(t.Context(), k.Due(), redis.Z{Score: 0, Member: "r1"})
	c := claimRooms(t, e, k.Due(), 10, 10*time.Second)
	if !slices.Contains(c.rooms, "r1") {
		t.Fatalf("claim %+v", c)
	}
	done := func(lease int64, headSeen string, notBefore, next int64) []int64 {
		t.Helper()
		res, err := e.rdb.FCall(t.Context(), "rcpesc_done", keys, "r1", lease, headSeen, notBefore, next).Int64Slice()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// Someone else's lease: nothing changes.
	if r := done(c.leaseUntil+1, head, 5, 7); r[1] != 0 || e.dueScore("r1") != c.leaseUntil {
		t.Fatalf("foreign lease rescheduled: %v, score %d", r, e.dueScore("r1"))
	}
	// A message arrived after the scan (head moved): no later than notBefore.
	if r := done(c.leaseUntil, "0-1", 5, 7); r[1] != 1 || e.dueScore("r1") != 5 {
		t.Fatalf("head moved: %v, score %d, want 5", r, e.dueScore("r1"))
	}
	e.rdb.ZAdd(t.Context(), k.Due(), redis.Z{Score: float64(c.leaseUntil), Member: "r1"})
	if r := done(c.leaseUntil, head, 5, 7); r[1] != 1 || e.dueScore("r1") != 7 {
		t.Fatalf("reschedule: %v, score %d, want 7", r, e.dueScore("r1"))
	}
	e.rdb.ZAdd(t.Context(), k.Due(), redis.Z{Score: float64(c.leaseUntil), Member: "r1"})
	if r := done(c.leaseUntil, head, 5, -1); r[1] != 1 || e.dueScore("r1") != -1 {
		t.Fatalf("nothing pending: %v, score %d, want gone", r, e.dueScore("r1"))
	}
}

func TestSweepSettlesRoomsThatNeedNoPass(t *testing.T) {
	e := newEnv(t, time.Second, 1)
	k := e.b.KeysFor("acked")
	rooms := []string{"acked", "pending", "pushed", "foreign", "quiet", "gone"}
	for _, r := range rooms[:5] {
		e.room(r, "alice", "bob")
	}
	sent := map[string]string{}
	for _, r := range []string{"acked", "pending", "pushed", "foreign"} {
		sent[r] = e.send(r, "alice", "x").ID
	}
	if _, err := e.b.Ack(t.Context(), "acked", "bob", sent["acked"]); err != nil {
		t.Fatal(err)
	}
	// Pushed before (delivery count 2, idle reset).
	if err := e.rdb.XClaim(t.Context(), &redis.XClaimArgs{Stream: k.Room("pushed"), Group: "u:bob",
		Consumer: "u:bob", Messages: []string{sent["pushed"]}}).Err(); err != nil {
		t.Fatal(err)
	}
	idMs := func(r string) int64 {
		id, err := broker.ParseID(sent[r])
		if err != nil {
			t.Fatal(err)
		}
		return int64(id.Ms)
	}
	sweep := func(minIdle time.Duration) []string {
		t.Helper()
		for _, r := range rooms {
			e.rdb.ZAdd(t.Context(), k.Due(), redis.Z{Score: 0, Member: r})
		}
		c := claimRooms(t, e, k.Due(), 10, 10*time.Second)
		if len(c.rooms) != len(rooms) {
			t.Fatalf("claim %+v", c)
		}
		// "foreign": another claim holds it now.
		e.rdb.ZAdd(t.Context(), k.Due(), redis.Z{Score: 7, Member: "foreign"})
		keys := []string{k.Due()}
		args := []any{c.leaseUntil, minIdle.Milliseconds()}
		for _, r := range rooms {
			keys = append(keys, k.Room(r))
			args = append(args, r)
		}
		kept, err := e.rdb.FCall(t.Context(), "rcpesc_sweep", keys, args...).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []string{"acked", "quiet", "gone"} {
			if s := e.dueScore(r); s != -1 {
				t.Fatalf("nothing pending in %s, still scheduled at %d", r, s)
			}
		}
		if s := e.dueScore("foreign"); s != 7 {
			t.Fatalf("a room held by another claim was changed: %d", s)
		}
		return kept
	}

	// Every pending entry younger than the threshold: back when the oldest
	// could be due, no pass.
	if kept := sweep(time.Minute); len(kept) != 0 {
		t.Fatalf("kept %v, want none", kept)
	}
	for _, r := range []string{"pending", "pushed"} {
		if s, want := e.dueScore(r), idMs(r)+60_000; s != want {
			t.Fatalf("%s rescheduled at %d, want its entry's id time + 1 min = %d", r, s, want)
		}
	}
	// Old enough to be due: a pass, whatever the entry's idle time.
	time.Sleep(30 * time.Millisecond)
	if kept := sweep(20 * time.Millisecond); !slices.Equal(kept, []string{"pending", "pushed"}) {
		t.Fatalf("kept %v, want the rooms with entries old enough", kept)
	}

	// The next send puts a swept room back on the schedule.
	e.send("acked", "bob", "y")
	if s := e.dueScore("acked"); s == -1 {
		t.Fatal("swept room not rescheduled by a send")
	}
}

// sweepCounter counts rcpesc_sweep calls and the rooms they carry.
type sweepCounter struct{ calls, rooms atomic.Int32 }

func (h *sweepCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *sweepCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *sweepCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if a := cmd.Args(); len(a) > 2 && a[0] == "fcall" && a[1] == "rcpesc_sweep" {
			h.calls.Add(1)
			h.rooms.Add((int32(len(a)) - 6) / 2) // fcall name numkeys due lease min_idle, then a key and a name per room
		}
		return next(ctx, cmd)
	}
}

// TestEscalatorCoalescesRoomsComingDue: rooms that come due within
// Coalesce of each other are claimed and swept in one call.
func TestEscalatorCoalescesRoomsComingDue(t *testing.T) {
	e := newEnv(t, time.Second, 1)
	rooms := []string{"c1", "c2", "c3"}
	for _, r := range rooms {
		e.room(r, "alice", "bob") // nothing pending: a sweep drops the room
	}
	due := e.b.KeysFor("c1").Due()
	now, err := e.rdb.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rooms {
		e.rdb.ZAdd(t.Context(), due, redis.Z{Score: float64(now.UnixMilli() + 100*int64(i+1)), Member: r})
	}
	count := &sweepCounter{}
	e.rdb.AddHook(count)
	cfg := e.cfg
	cfg.Poll, cfg.Coalesce = 5*time.Second, time.Second
	e.start(cfg)
	deadline := time.Now().Add(10 * time.Second)
	for e.rdb.ZCard(t.Context(), due).Val() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the rooms never left the schedule")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, n := count.calls.Load(), count.rooms.Load(); c != 1 || n != 3 {
		t.Fatalf("%d sweeps of %d rooms in all, want 1 sweep of the 3", c, n)
	}
}
