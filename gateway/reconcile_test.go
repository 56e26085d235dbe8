package gateway_test

import (
	"context"
	"slices"
	"testing"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries/queriestest"
)

func TestReconcileMirrorsMySQLIntoRedis(t *testing.T) {
	ctx := context.Background()
	db := queriestest.NewDB(t)
	b := brokertest.New(t)
	mysqlOnly := gateway.NewMySQLRoomStore(db, gateway.MySQLRoomStoreConfig{})
	for _, spec := range []gateway.RoomSpec{
		{ID: "ra", Name: "a", Kind: gateway.KindGroup, Members: []string{"alice", "bob", "carol"}},
		{ID: "rb", Name: "b", Kind: gateway.KindGroup, Members: []string{"bob", "dave"}},
	} {
		if _, _, err := mysqlOnly.Create(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	// Redis knows a member MySQL does not.
	if _, err := b.Join(ctx, "rb", "mallory"); err != nil {
		t.Fatal(err)
	}
	st, err := gateway.Reconcile(ctx, db, b)
	if err != nil {
		t.Fatal(err)
	}
	if st != (gateway.ReconcileStats{Rooms: 2, Joined: 5, Left: 1}) {
		t.Fatalf("stats %+v", st)
	}
	assertMembers(t, b, "ra", "alice", "bob", "carol")
	assertMembers(t, b, "rb", "bob", "dave")

	// A message, then Redis loses everything of this deployment.
	if _, err := b.Send(ctx, broker.SendRequest{Room: "ra", Sender: "alice", Type: "text", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	again, err := gateway.Reconcile(ctx, db, b)
	if err != nil || again != (gateway.ReconcileStats{Rooms: 2}) {
		t.Fatalf("second reconcile changed things: %+v %v", again, err)
	}
	if ps, _ := b.Pending(ctx, "ra", "bob", "", 10); len(ps) != 1 {
		t.Fatalf("reconcile lost bob's pending entry: %v", ps)
	}
	brokertest.DeleteAll(t, b)
	if _, err := gateway.Reconcile(ctx, db, b); err != nil {
		t.Fatal(err)
	}
	assertMembers(t, b, "ra", "alice", "bob", "carol")
	if ps, err := b.Pending(ctx, "ra", "bob", "", 10); err != nil || len(ps) != 0 {
		t.Fatalf("pending invented after Redis loss: %v %v", ps, err)
	}
	res, err := b.Send(ctx, broker.SendRequest{Room: "ra", Sender: "carol", Type: "text", Body: []byte(`{}`)})
	if err != nil || res.Seq != 1 {
		t.Fatalf("send after Redis loss: %+v %v", res, err)
	}
}

func assertMembers(t *testing.T, b *broker.Broker, room string, want ...string) {
	t.Helper()
	got, err := b.Members(context.Background(), room)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("members of %s: %v, want %v", room, got, want)
	}
}
