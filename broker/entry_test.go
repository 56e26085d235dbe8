package broker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rcp/rcp/broker"
)

// sendN sends n text messages as alice and returns their ids.
func sendN(t *testing.T, b *broker.Broker, room string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		res, err := b.Send(context.Background(), broker.SendRequest{Room: room, Sender: "alice", Type: "text",
			Body: []byte(fmt.Sprintf(`{"type":"text","text":"m%d"}`, i+1))})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = res.ID
	}
	return ids
}

func entryIDs(es []broker.Entry) string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return strings.Join(ids, ",")
}

func TestRangeManyBoundsAreExclusive(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "ra", "alice")
	mustJoin(t, b, "rb", "alice")
	a, bb := sendN(t, b, "ra", 5), sendN(t, b, "rb", 2)
	got, err := b.RangeMany(ctx, []broker.RangeReq{
		{Room: "ra", After: a[0], Before: a[4], Count: 10},
		{Room: "ra", After: a[0], Before: a[4], Count: 2},
		{Room: "rb", Count: 10},
		{Room: "nosuchroom", Count: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{strings.Join(a[1:4], ","), strings.Join(a[1:3], ","), strings.Join(bb, ","), ""}
	for i, w := range want {
		if g := entryIDs(got[i]); g != w {
			t.Errorf("read %d: %s, want %s", i, g, w)
		}
	}
	if got[0][0].Seq != 2 || got[0][0].PrevID != a[0] || got[0][0].Room != "ra" || string(got[0][0].Body) != `{"type":"text","text":"m2"}` {
		t.Errorf("entry %+v", got[0][0])
	}
}

func TestRangeBeforeIsNewestFirst(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "rc", "alice")
	ids := sendN(t, b, "rc", 4)
	got, err := b.RangeBefore(ctx, "rc", ids[3], 2)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := entryIDs(got), ids[2]+","+ids[1]; g != w {
		t.Fatalf("before %s: %s, want %s", ids[3], g, w)
	}
	all, err := b.RangeBefore(ctx, "rc", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := entryIDs(all), ids[3]+","+ids[2]+","+ids[1]+","+ids[0]; g != w {
		t.Fatalf("all: %s, want %s", g, w)
	}
}

func TestEntriesLeavesOutTrimmed(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "rd", "alice")
	ids := sendN(t, b, "rd", 3)
	if err := b.Redis().XTrimMinID(ctx, b.KeysFor("rd").Room("rd"), ids[1]).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := b.Entries(ctx, "rd", []string{ids[2], ids[0], ids[1]})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := entryIDs(got), ids[2]+","+ids[1]; g != w {
		t.Fatalf("entries %s, want %s", g, w)
	}
}

func TestHeadsAndProbeCursors(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	rooms := []string{"h1", "h2", "h3", "h4", "h5"}
	for _, r := range rooms {
		mustJoin(t, b, r, "alice", "bob")
	}
	h1, h2 := sendN(t, b, "h1", 3), sendN(t, b, "h2", 1)
	heads, err := b.Heads(ctx, append(rooms, "empty"))
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads["h1"] != (broker.Head{ID: h1[2], Seq: 3}) || heads["h2"] != (broker.Head{ID: h2[0], Seq: 1}) {
		t.Fatalf("heads %+v", heads)
	}
	if _, err := b.AckUpTo(ctx, "h1", "bob", h1[0]); err != nil {
		t.Fatal(err)
	}
	st, err := b.ProbeCursors(ctx, "bob", []string{"h1", "h2", "empty"}, []string{h1[1], "0", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if st[0].AtOrBefore == nil || st[0].AtOrBefore.ID != h1[1] || st[0].AtOrBefore.Seq != 2 ||
		st[0].First == nil || st[0].First.ID != h1[0] || st[0].Pending != 2 {
		t.Fatalf("h1: %+v", st[0])
	}
	if st[1].AtOrBefore != nil || st[1].First == nil || st[1].First.Seq != 1 || st[1].Pending != 1 {
		t.Fatalf("h2: %+v", st[1])
	}
	if st[2].AtOrBefore != nil || st[2].First != nil || st[2].Pending != 0 {
		t.Fatalf("a room that does not exist: %+v", st[2])
	}
}
