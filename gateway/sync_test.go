package gateway_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rcp/rcp/gateway"
)

func TestSyncCountsEntriesAfterCursorsInRedisAndMySQL(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	for _, r := range []string{"a", "b", "c", "d", "quiet"} {
		e.room(r, "alice", "bob")
	}
	e.room("foreign", "alice")
	a := e.send("a", "alice", 10)
	b := e.send("b", "alice", 5)
	c := e.send("c", "alice", 3)
	d := e.send("d", "alice", 10)
	e.send("foreign", "alice", 2)
	if _, err := e.b.AckUpTo(ctx, "d", "bob", d[9]); err != nil {
		t.Fatal(err)
	}
	// d's first ten leave Redis (bob acknowledged them), so do alice's own
	// in foreign; a, b and c stay, held by bob's pending entries.
	if st := e.archive(); st.Rows != 30 || st.Trimmed != 12 || st.Held != 3 {
		t.Fatalf("archive %+v", st)
	}
	d = append(d, e.send("d", "alice", 3)...)

	cursors := map[string]string{"a": a[3], "c": c[2], "d": d[4], "foreign": "0"}
	e.calls.n.Store(0)
	got, err := e.syncer.Sync(ctx, "bob", cursors)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.calls.n.Load(); n != 2 {
		t.Errorf("sync made %d Redis calls, want 2 (heads, then probes)", n)
	}
	want := []gateway.SyncRoom{
		{Room: "a", Newest: a[9], Seq: 10, Count: 6, Pending: 10},
		{Room: "b", Newest: b[4], Seq: 5, Count: 5, Pending: 5},
		{Room: "d", Newest: d[12], Seq: 13, Count: 8, Pending: 3},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sync:\n got %+v\nwant %+v", got, want)
	}
	var rest syncResp
	if code := e.call("POST", "/v1/sync", "bob", map[string]any{"cursors": cursors}, &rest); code != 200 || !slices.Equal(rest.Rooms, want) {
		t.Fatalf("POST /v1/sync: %d %+v", code, rest)
	}
	for _, bad := range []map[string]any{
		{"cursors": map[string]string{"a": "yesterday"}},
		{"cursors": map[string]string{"no/such": "0"}},
		{"cursor": map[string]string{}},
	} {
		if code := e.call("POST", "/v1/sync", "bob", bad, nil); code != 400 {
			t.Errorf("POST /v1/sync %v: %d, want 400", bad, code)
		}
	}
}

func TestSyncOfAThousandRoomsTakesTwoRedisCalls(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	const rooms = 1000
	cursors := map[string]string{}
	for i := range rooms {
		r := fmt.Sprintf("room%04d", i)
		e.room(r, "alice", "bob")
		ids := e.send(r, "alice", 1+i%3)
		if i%2 == 0 {
			cursors[r] = ids[0]
		}
	}
	e.calls.n.Store(0)
	t0 := time.Now()
	got, err := e.syncer.Sync(ctx, "bob", cursors)
	took := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	calls := e.calls.n.Load()
	var total int64
	for _, r := range got {
		total += r.Count
	}
	// Odd rooms count everything (no cursor); even rooms all but the first.
	var want int64
	for i := range rooms {
		want += int64(1 + i%3)
		if i%2 == 0 {
			want--
		}
	}
	if total != want || calls != 2 {
		t.Fatalf("%d rooms changed, %d entries counted (want %d), %d Redis calls (want 2)", len(got), total, want, calls)
	}
	t.Logf("sync of %d rooms: %d changed, %d Redis calls (pipelines), %v", rooms, len(got), calls, took)
}

func TestMessagesPageAcrossTheArchiveBoundary(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	e.room("r", "alice", "bob")
	ids := e.send("r", "alice", 20)
	if _, err := e.b.AckUpTo(ctx, "r", "bob", ids[19]); err != nil {
		t.Fatal(err)
	}
	if st := e.archive(); st.Rows != 20 || st.Trimmed != 20 {
		t.Fatalf("archive %+v", st)
	}
	ids = append(ids, e.send("r", "alice", 10)...)
	// Pages of 7 from the start: 1–7 and 8–14 from MySQL, 15–21 across the
	// boundary, then Redis.
	var all []string
	after := "0"
	for pages := 0; ; pages++ {
		var p pageResp
		if code := e.call("GET", "/v1/rooms/r/messages?limit=7&after="+after, "bob", nil, &p); code != 200 {
			t.Fatalf("page after %s: %d", after, code)
		}
		if len(p.Messages) > 0 && (p.Messages[0].Seq != int64(len(all)+1) || p.Messages[0].Sender != "alice" ||
			p.Messages[0].Type != "text" || string(p.Messages[0].Body) != fmt.Sprintf(`{"type":"text","text":"r %d"}`, len(all)%20)) {
			t.Fatalf("page after %s starts with %+v", after, p.Messages[0])
		}
		all = append(all, p.ids()...)
		if p.Next == nil {
			break
		}
		after = *p.Next
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(all, ids) {
		t.Fatalf("paged %d ids:\n%v\nwant %d:\n%v", len(all), all, len(ids), ids)
	}
	var back pageResp
	e.call("GET", "/v1/rooms/r/messages?limit=10&before="+ids[24], "bob", nil, &back)
	if !slices.Equal(back.ids(), ids[14:24]) || back.Prev == nil || *back.Prev != ids[14] || back.Next != nil {
		t.Fatalf("before %s: %v prev %v", ids[24], back.ids(), back.Prev)
	}
	var window pageResp
	e.call("GET", "/v1/rooms/r/messages?after="+ids[17]+"&before="+ids[22], "bob", nil, &window)
	if !slices.Equal(window.ids(), ids[18:22]) || window.Next != nil {
		t.Fatalf("window: %v next %v", window.ids(), window.Next)
	}
	if code := e.call("GET", "/v1/rooms/r/messages", "mallory", nil, nil); code != 403 {
		t.Fatalf("non-member: %d, want 403", code)
	}
	if code := e.call("GET", "/v1/rooms/r/messages?after=x", "bob", nil, nil); code != 400 {
		t.Fatalf("bad cursor: %d, want 400", code)
	}
}

func TestMessagesWhileArchivedEntriesStayInTheStream(t *testing.T) {
	e := newSyncEnv(t)
	e.room("r", "alice", "bob")
	ids := e.send("r", "alice", 12)
	if st := e.archive(); st.Rows != 12 || st.Trimmed != 0 || st.Held != 1 {
		t.Fatalf("archive %+v, want all archived, none trimmed (bob's pending)", st)
	}
	var p pageResp
	e.call("GET", "/v1/rooms/r/messages?limit=100", "bob", nil, &p)
	if !slices.Equal(p.ids(), ids) {
		t.Fatalf("got %v, want %v once each", p.ids(), ids)
	}
}

func TestBacklogReadsTrimmedPendingEntriesFromMySQL(t *testing.T) {
	e := newSyncEnv(t)
	ctx := context.Background()
	e.room("r", "alice", "bob")
	ids := e.send("r", "alice", 6)
	e.archive()
	// Something other than the archiver trims past bob's ledger.
	if err := e.b.Redis().XTrimMinID(ctx, e.b.KeysFor("r").Room("r"), ids[4]).Err(); err != nil {
		t.Fatal(err)
	}
	got, next, done, err := e.history.Backlog(ctx, "r", "bob", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, en := range got {
		gotIDs = append(gotIDs, en.ID)
	}
	if !slices.Equal(gotIDs, ids) || next != ids[5] || !done || got[1].PrevID != ids[0] || got[0].PrevID != "" || got[3].Seq != 4 {
		t.Fatalf("backlog %v next %s done %v; want %v", gotIDs, next, done, ids)
	}
}

func TestAckUpToOverREST(t *testing.T) {
	e := newSyncEnv(t)
	e.room("r", "alice", "bob")
	ids := e.send("r", "alice", 5)
	var out map[string]int64
	if code := e.call("POST", "/v1/rooms/r/ack", "bob", map[string]string{"upTo": ids[2]}, &out); code != 200 || out["acked"] != 3 {
		t.Fatalf("ack: %d %v", code, out)
	}
	var s syncResp
	e.call("POST", "/v1/sync", "bob", map[string]any{"cursors": map[string]string{"r": ids[2]}}, &s)
	if len(s.Rooms) != 1 || s.Rooms[0].Pending != 2 || s.Rooms[0].Count != 2 {
		t.Fatalf("sync after ack: %+v", s)
	}
	for _, c := range []struct {
		user string
		body any
		want int
	}{
		{"mallory", map[string]string{"upTo": ids[4]}, 403},
		{"bob", map[string]string{"upTo": "soon"}, 400},
		{"bob", map[string]string{"through": ids[4]}, 400},
	} {
		if code := e.call("POST", "/v1/rooms/r/ack", c.user, c.body, nil); code != c.want {
			t.Errorf("ack as %s %v: %d, want %d", c.user, c.body, code, c.want)
		}
	}
}
