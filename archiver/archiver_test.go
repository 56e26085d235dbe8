package archiver_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
)

var week = 7 * 24 * time.Hour

func TestArchiveMovesEntriesOlderThanTheHotWindowAndTrims(t *testing.T) {
	e := newEnv(t)
	members := []string{"alice", "bob"}
	old := e.fill("r1", "alice", members, 100, daysAgo(10), 1000)
	recent := e.fill("r1", "alice", members, 10, daysAgo(1), 1000)
	if _, err := e.b.AckUpTo(context.Background(), "r1", "bob", recent[9]); err != nil {
		t.Fatal(err)
	}
	a := e.archiver(archiver.Config{HotWindow: week})
	st := a.RunOnce(context.Background())
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	if st.Partitions != 4 || st.Read != 100 || st.Rows != 100 || st.Trimmed != 100 || st.Held != 0 || st.LagMs != 0 {
		t.Fatalf("pass %+v", st)
	}
	rows := e.rows("r1")
	if len(rows) != 100 {
		t.Fatalf("%d rows in MySQL, want 100", len(rows))
	}
	for i, m := range rows {
		if rowID(m) != old[i] || m.Seq != uint64(i+1) || string(m.Body) != body("r1", int64(i+1)) ||
			m.SenderID != "alice" || m.Type != "text" || m.CreatedAt.UnixMilli() != int64(m.IDMs) {
			t.Fatalf("row %d: %+v, want id %s", i, m, old[i])
		}
		if i == 0 && m.PrevMs.Valid || i > 0 && fmt.Sprintf("%d-%d", m.PrevMs.Int64, m.PrevSeq.Int64) != old[i-1] {
			t.Fatalf("row %d prev %v-%v", i, m.PrevMs, m.PrevSeq)
		}
	}
	if n := e.streamLen("r1"); n != 10 {
		t.Fatalf("stream holds %d entries, want the 10 recent ones", n)
	}
	again := a.RunOnce(context.Background())
	if again.Err != nil || again.Read != 0 || again.Rows != 0 || again.Trimmed != 0 {
		t.Fatalf("second pass %+v, want nothing to do", again)
	}
	status, err := archiver.Status(context.Background(), e.b)
	if err != nil {
		t.Fatal(err)
	}
	p := broker.Partition("r1", 4)
	if s := status[p]; s.Rows != 100 || s.Trimmed != 100 || s.Rooms != 1 || s.Error != "" || s.LeaseOwner != "" ||
		s.HotWindowMs != week.Milliseconds() || s.OkAtMs == 0 {
		t.Fatalf("status of partition %d: %+v", p, s)
	}
}

func TestTrimWaitsForPendingEntries(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ids := e.fill("r2", "alice", []string{"alice", "bob"}, 100, daysAgo(10), 1000)
	if _, err := e.b.AckUpTo(ctx, "r2", "bob", ids[48]); err != nil {
		t.Fatal(err)
	}
	a := e.archiver(archiver.Config{HotWindow: week})
	st := a.RunOnce(ctx)
	if st.Err != nil || st.Rows != 100 || st.Trimmed != 49 || st.Held != 1 || st.Expired != 0 {
		t.Fatalf("pass %+v, want 100 rows, 49 trimmed, 1 room held", st)
	}
	first, err := e.b.Range(ctx, "r2", "", 1)
	if err != nil || len(first) != 1 || first[0].ID != ids[49] {
		t.Fatalf("stream starts at %v (%v), want bob's oldest pending %s", first, err, ids[49])
	}
	if _, err := e.b.AckUpTo(ctx, "r2", "bob", ids[99]); err != nil {
		t.Fatal(err)
	}
	st = a.RunOnce(ctx)
	if st.Err != nil || st.Rows != 0 || st.Trimmed != 51 || st.Held != 0 {
		t.Fatalf("pass after ack %+v, want the 51 others trimmed", st)
	}
	if n := e.streamLen("r2"); n != 0 {
		t.Fatalf("stream holds %d entries", n)
	}
}

func TestPendingPastMaxAgeIsEscalatedOnceAndAcknowledged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	members := []string{"alice", "bob", "carol"}
	expired := e.fill("r3", "alice", members, 50, daysAgo(20), 1000)
	young := e.fill("r3", "alice", members, 50, daysAgo(8), 1000)
	if _, err := e.b.AckUpTo(ctx, "r3", "carol", young[49]); err != nil {
		t.Fatal(err)
	}
	a := e.archiver(archiver.Config{HotWindow: week, MaxAge: 10 * 24 * time.Hour})
	st := a.RunOnce(ctx)
	if st.Err != nil || st.Rows != 100 || st.Expired != 50 || st.Trimmed != 50 || st.Held != 1 {
		t.Fatalf("pass %+v, want 100 rows, bob's 50 expired entries acknowledged and trimmed, held by his young ones", st)
	}
	if n := e.pendingCount("r3", "bob"); n != 50 {
		t.Fatalf("bob has %d pending, want the 50 young ones", n)
	}
	logged := e.log.lines("max age")
	if len(logged) != 1 || logged[0]["user"] != "bob" || logged[0]["room"] != "r3" || logged[0]["entries"] != 50.0 ||
		logged[0]["oldest"] != expired[0] || logged[0]["newest"] != expired[49] {
		t.Fatalf("escalations logged: %v", logged)
	}
	st = a.RunOnce(ctx)
	if st.Err != nil || st.Expired != 0 || st.Trimmed != 0 || st.Held != 1 {
		t.Fatalf("second pass %+v", st)
	}
	if n := len(e.log.lines("max age")); n != 1 {
		t.Fatalf("escalated %d times, want once", n)
	}
}

func TestPartitionsLeasedElsewhereAreSkipped(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fill("r4", "alice", []string{"alice"}, 10, daysAgo(10), 1000)
	other := e.archiver(archiver.Config{HotWindow: week, Owner: "other"})
	p := broker.Partition("r4", 4)
	key := fmt.Sprintf("%s:{p%d}:arch:lease", e.b.KeysFor("r4").Prefix, p)
	if n, err := e.b.Redis().FCall(ctx, "rcparch_lease", []string{key}, "other", 60000).Int(); err != nil || n != 1 {
		t.Fatalf("take lease: %d %v", n, err)
	}
	mine := e.archiver(archiver.Config{HotWindow: week, Owner: "mine"})
	if st := mine.RunOnce(ctx); st.Err != nil || st.Partitions != 3 || st.Rows != 0 {
		t.Fatalf("pass while leased elsewhere %+v", st)
	}
	if st := other.RunOnce(ctx); st.Err != nil || st.Partitions != 4 || st.Rows != 10 {
		t.Fatalf("lease holder's pass %+v", st)
	}
	if n, _ := e.b.Redis().Exists(ctx, key).Result(); n != 0 {
		t.Fatal("lease not released after the pass")
	}
}
