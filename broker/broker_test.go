package broker_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
)

// newBroker returns a broker on the test Redis with a key prefix of its own.
func newBroker(t testing.TB) *broker.Broker { return brokertest.New(t) }

func mustJoin(t testing.TB, b *broker.Broker, room string, users ...string) {
	t.Helper()
	for _, u := range users {
		if _, err := b.Join(context.Background(), room, u); err != nil {
			t.Fatal(err)
		}
	}
}

func pendingIDs(t testing.TB, b *broker.Broker, room, user string) []string {
	t.Helper()
	ps, err := b.Pending(context.Background(), room, user, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func TestSendCreatesLedgerEntries(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r1", "alice", "bob", "carol")
	var ids []string
	for i := 1; i <= 3; i++ {
		res, err := b.Send(ctx, broker.SendRequest{Room: "r1", Sender: "alice", Type: "text", Body: []byte(fmt.Sprintf(`{"type":"text","text":"m%d"}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		if res.Seq != int64(i) || res.Duplicate {
			t.Fatalf("send %d: %+v", i, res)
		}
		ids = append(ids, res.ID)
	}
	if got := pendingIDs(t, b, "r1", "alice"); len(got) != 0 {
		t.Fatalf("sender has pending %v", got)
	}
	for _, u := range []string{"bob", "carol"} {
		if got := pendingIDs(t, b, "r1", u); strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Fatalf("%s pending %v, want %v", u, got, ids)
		}
	}
	if n, err := b.Ack(ctx, "r1", "bob", ids[1]); err != nil || n != 1 {
		t.Fatalf("ack: %d %v", n, err)
	}
	if got := pendingIDs(t, b, "r1", "bob"); strings.Join(got, ",") != ids[0]+","+ids[2] {
		t.Fatalf("bob pending after ack %v", got)
	}
	if got := pendingIDs(t, b, "r1", "carol"); len(got) != 3 {
		t.Fatalf("carol's ledger changed by bob's ack: %v", got)
	}
	if n, err := b.AckUpTo(ctx, "r1", "carol", ids[1]); err != nil || n != 2 {
		t.Fatalf("ack up to: %d %v", n, err)
	}
	if got := pendingIDs(t, b, "r1", "carol"); len(got) != 1 || got[0] != ids[2] {
		t.Fatalf("carol pending after ack up to %v", got)
	}
	entries, err := b.Range(ctx, "r1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].PrevID != "" || entries[1].PrevID != ids[0] || entries[2].Seq != 3 || string(entries[2].Body) != `{"type":"text","text":"m3"}` {
		t.Fatalf("entries %+v", entries)
	}
}

func TestSendIdempotentAndMembership(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r2", "alice", "bob")
	req := broker.SendRequest{Room: "r2", Sender: "alice", Type: "text", Body: []byte(`{}`), ClientID: "c-1"}
	first, err := b.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Send(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.Seq != first.Seq || !again.Duplicate {
		t.Fatalf("retry %+v, first %+v", again, first)
	}
	if got := pendingIDs(t, b, "r2", "bob"); len(got) != 1 {
		t.Fatalf("retry made more entries: %v", got)
	}
	_, err = b.Send(ctx, broker.SendRequest{Room: "r2", Sender: "mallory", Type: "text", Body: []byte(`{}`)})
	if err == nil || !strings.Contains(err.Error(), broker.ErrNotMember.Error()) {
		t.Fatalf("foreign sender: %v", err)
	}
	if es, _ := b.Range(ctx, "r2", "", 10); len(es) != 1 {
		t.Fatalf("foreign send wrote: %d entries", len(es))
	}
}

// TestSendClientIDOfAnotherType: a client id names one message; a SEND of
// another type under it is refused and writes nothing, a retry of the same
// type is deduplicated. Records written before the type was kept ("id
// seq") deduplicate any type, as before.
func TestSendClientIDOfAnotherType(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r3", "alice", "bob")
	text := broker.SendRequest{Room: "r3", Sender: "alice", Type: "text", Body: []byte(`{}`), ClientID: "c-1"}
	first, err := b.Send(ctx, text)
	if err != nil {
		t.Fatal(err)
	}
	if typ, found, err := b.ClientIDType(ctx, "r3", "c-1"); err != nil || !found || typ != "text" {
		t.Fatalf("ClientIDType: %q %v %v, want text", typ, found, err)
	}
	image := text
	image.Type, image.Body = "image", []byte(`{"type":"image"}`)
	if _, err := b.Send(ctx, image); !errors.Is(err, broker.ErrClientIDUsed) {
		t.Fatalf("image under a text's client id: %v, want ErrClientIDUsed", err)
	}
	if again, err := b.Send(ctx, text); err != nil || again.ID != first.ID || !again.Duplicate {
		t.Fatalf("text retry: %+v %v, first %+v", again, err, first)
	}
	if es, _ := b.Range(ctx, "r3", "", 10); len(es) != 1 {
		t.Fatalf("%d entries, want the first only", len(es))
	}

	legacy := first.ID + " " + strconv.FormatInt(first.Seq, 10)
	b.Redis().Set(ctx, b.KeysFor("r3").Dedup("r3", "c-0"), legacy, time.Minute)
	if typ, found, err := b.ClientIDType(ctx, "r3", "c-0"); err != nil || !found || typ != "" {
		t.Fatalf("ClientIDType of a legacy record: %q %v %v", typ, found, err)
	}
	image.ClientID = "c-0"
	if res, err := b.Send(ctx, image); err != nil || res.ID != first.ID || !res.Duplicate {
		t.Fatalf("send under a legacy record: %+v %v", res, err)
	}
	if _, found, err := b.ClientIDType(ctx, "r3", "c-9"); err != nil || found {
		t.Fatalf("ClientIDType of an unused id: %v %v", found, err)
	}
}

func TestJoinStartsAtHeadAndLeaveDropsLedger(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r3", "alice", "bob")
	if _, err := b.Send(ctx, broker.SendRequest{Room: "r3", Sender: "alice", Type: "text", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	mustJoin(t, b, "r3", "dave")
	if got := pendingIDs(t, b, "r3", "dave"); len(got) != 0 {
		t.Fatalf("late joiner got history in the ledger: %v", got)
	}
	res, err := b.Send(ctx, broker.SendRequest{Room: "r3", Sender: "bob", Type: "text", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, b, "r3", "dave"); len(got) != 1 || got[0] != res.ID {
		t.Fatalf("dave pending %v want %s", got, res.ID)
	}
	if left, err := b.Leave(ctx, "r3", "dave"); err != nil || !left {
		t.Fatalf("leave: %v %v", left, err)
	}
	if ok, _ := b.IsMember(ctx, "r3", "dave"); ok {
		t.Fatal("still a member")
	}
	_, err = b.Pending(ctx, "r3", "dave", "", 10)
	if err == nil || !strings.Contains(err.Error(), "NOGROUP") {
		t.Fatalf("group survived leave: %v", err)
	}
}

func TestLostGroupIsRecreatedWithoutLosingTheEntry(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r4", "alice", "bob")
	k := b.KeysFor("r4")
	if err := b.Redis().XGroupDestroy(ctx, k.Room("r4"), broker.Group("bob")).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := b.Send(ctx, broker.SendRequest{Room: "r4", Sender: "alice", Type: "text", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, b, "r4", "bob"); len(got) != 1 || got[0] != res.ID {
		t.Fatalf("bob pending %v want %s", got, res.ID)
	}
}

func TestBacklogHasNoSideEffectOnDeliveryCount(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	mustJoin(t, b, "r5", "alice", "bob")
	for i := 0; i < 5; i++ {
		if _, err := b.Send(ctx, broker.SendRequest{Room: "r5", Sender: "alice", Type: "text", Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		es, err := b.Backlog(ctx, "r5", "bob", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 5 || string(es[4].Body) != "4" {
			t.Fatalf("backlog %+v", es)
		}
	}
	ps, _ := b.Pending(ctx, "r5", "bob", "", 100)
	for _, p := range ps {
		if p.Deliveries != 1 {
			t.Fatalf("delivery count %d after backlog reads", p.Deliveries)
		}
	}
}

// TestFanoutDeliversInOrder: entries of rooms in many partitions, sent
// concurrently, all come out of the fan-out, each room's in stream order.
func TestFanoutDeliversInOrder(t *testing.T) {
	b := newBroker(t)
	rooms := make([]string, 12)
	parts := map[int]bool{}
	for i := range rooms {
		rooms[i] = fmt.Sprintf("r%d", 6+i)
		mustJoin(t, b, rooms[i], "alice", "bob")
		parts[broker.Partition(rooms[i], b.Partitions())] = true
	}
	if len(parts) < 4 {
		t.Fatalf("rooms fall in %d partitions; the test wants several", len(parts))
	}
	ctx, cancel := context.WithCancel(context.Background())
	const perRoom = 25
	got := make(chan broker.Entry, len(rooms)*perRoom)
	done := make(chan struct{})
	f, err := b.NewFanout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { f.Run(ctx, func(e broker.Entry) { got <- e }); close(done) }()
	var wg sync.WaitGroup
	for _, room := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perRoom {
				if _, err := b.Send(context.Background(), broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(`{}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string][]int64{}
	timeout := time.After(10 * time.Second)
	for n := 0; n < len(rooms)*perRoom; n++ {
		select {
		case e := <-got:
			seen[e.Room] = append(seen[e.Room], e.Seq)
		case <-timeout:
			t.Fatalf("fan-out delivered %d of %d", n, len(rooms)*perRoom)
		}
	}
	cancel()
	<-done
	for _, room := range rooms {
		want := make([]int64, perRoom)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if fmt.Sprint(seen[room]) != fmt.Sprint(want) {
			t.Fatalf("room %s: seqs %v, want 1..%d in order", room, seen[room], perRoom)
		}
	}
}
