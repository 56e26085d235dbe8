package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rcp/rcp/broker"
)

func TestKeysRoomMatchesRedis(t *testing.T) {
	f := newFixture(t)
	f.join("r1", "alice", "bob")
	ctx := context.Background()
	var first, last broker.SendResult
	for i := 0; i < 3; i++ {
		res, err := f.b.Send(ctx, broker.SendRequest{Room: "r1", Sender: "alice", Type: "text",
			Body: []byte(`{"type":"text","text":"x"}`), ClientID: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = res
		}
		last = res
	}
	var rep keysReport
	f.runJSON(&rep, "keys", "room", "r1")
	k := f.b.KeysFor("r1")
	if rep.Room != "r1" || rep.Partition != k.Partition || len(rep.Keys) != 6 {
		t.Fatalf("report %+v", rep)
	}
	byRole := map[string]keyInfo{}
	for _, ki := range rep.Keys {
		byRole[ki.Role] = ki
	}
	check := func(role, key, typ string, length int64) keyInfo {
		t.Helper()
		ki := byRole[role]
		if ki.Key != key || ki.Type != typ || ki.Length != length {
			t.Fatalf("%s: %+v, want %s %s %d", role, ki, key, typ, length)
		}
		return ki
	}
	stream := check("stream", k.Room("r1"), "stream", 3)
	check("members", k.Members("r1"), "set", 2)
	check("feed", k.Feed(), "stream", 3)
	if heads := check("heads", k.Heads(), "hash", 1); heads.Field != "r1" || heads.Value != fmt.Sprintf("%s 3", last.ID) {
		t.Fatalf("heads %+v", heads)
	}
	if due := check("due", k.Due(), "zset", 1); due.Field != "r1" || due.Value == "" {
		t.Fatalf("due %+v", due)
	}
	check("dedup", k.Dedup("r1", "<client-id>"), "pattern", 0)

	want := map[string]int64{"u:alice": 0, "u:bob": 3}
	if len(stream.Groups) != 2 {
		t.Fatalf("groups %+v", stream.Groups)
	}
	for _, g := range stream.Groups {
		sum, err := f.b.Redis().XPending(ctx, k.Room("r1"), g.Name).Result()
		if err != nil {
			t.Fatal(err)
		}
		if g.Pending != want[g.Name] || g.Pending != sum.Count || g.Consumers != 1 || g.Newest != sum.Higher || g.Oldest != sum.Lower ||
			(g.Name == "u:bob" && (g.Oldest != first.ID || g.Newest != last.ID)) {
			t.Fatalf("group %+v, XPENDING count %d", g, sum.Count)
		}
	}

	out, err := f.run("keys", "room", "r1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("room r1 (partition %d)\n", k.Partition),
		"stream   " + k.Room("r1") + " ",
		"heads    " + k.Heads() + " ",
		"r1 = " + last.ID + " 3\n",
		"u:bob    1          3        " + first.ID + "  " + last.ID + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
}

func TestKeysOfAnUnknownRoom(t *testing.T) {
	f := newFixture(t)
	var rep keysReport
	f.runJSON(&rep, "keys", "room", "nowhere")
	for _, ki := range rep.Keys {
		if ki.Type != "none" && ki.Type != "pattern" {
			t.Fatalf("key %+v of a room that was never created", ki)
		}
	}
	out, err := f.run("keys", "room", "nowhere")
	if err != nil || !strings.Contains(out, "(no such key)") {
		t.Fatalf("%v:\n%s", err, out)
	}
}
