package main

import (
	"context"
	"strings"
	"testing"
)

func TestRoomsShowHeadsAndPending(t *testing.T) {
	f := newFixture(t)
	f.withMySQL(map[string][]string{"ra": {"alice", "bob"}, "rb": {"bob", "carol"}, "rc": {"alice", "carol"}})
	f.send("ra", "alice", 2)
	sent := f.send("rb", "carol", 4)
	if _, err := f.b.Ack(context.Background(), "rb", "bob", sent[0].ID, sent[1].ID); err != nil {
		t.Fatal(err)
	}
	var rep roomsReport
	f.runJSON(&rep, "rooms", "--user", "bob")
	want := []roomRow{
		{Room: "ra", Newest: rep.Rooms[0].Newest, Seq: 2, Pending: 2, Member: true},
		{Room: "rb", Newest: sent[3].ID, Seq: 4, Pending: 2, Member: true},
	}
	if rep.User != "bob" || len(rep.Rooms) != 2 || rep.Rooms[0] != want[0] || rep.Rooms[1] != want[1] || rep.Rooms[0].Newest == "" {
		t.Fatalf("rooms %+v, want %+v", rep.Rooms, want)
	}

	out, err := f.run("rooms", "--user", "carol", "--rooms", "rb,rz")
	if err != nil {
		t.Fatal(err)
	}
	wantText := "ROOM  NEWEST ID        SEQ  PENDING\n" +
		"rb    " + sent[3].ID + "  4    0\n" +
		"rz    -                0    (no consumer group)\n"
	if out != wantText {
		t.Fatalf("got:\n%s\nwant:\n%s", out, wantText)
	}
}

func TestCommandErrors(t *testing.T) {
	f := newFixture(t)
	f.join("r1", "alice")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"pending"}, `--user ""`},
		{[]string{"pending", "--user", "bob", "--room", "r1"}, "bob has no consumer group u:bob in room r1"},
		{[]string{"pending", "--user", "bob", "--mysql-dsn="}, "set RCP_MYSQL_DSN"},
		{[]string{"keys", "r1"}, "usage: rcpctl keys room R"},
		{[]string{"keys", "room", "a b"}, "invalid id"},
		{[]string{"rooms", "--user", "bob", "--rooms", "r1,{x}"}, "invalid id"},
	} {
		_, err := f.run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rcpctl %v: %v, want %q", c.args, err, c.want)
		}
	}
}

func TestHuman(t *testing.T) {
	for ms, want := range map[int64]string{0: "0ms", 850: "850ms", 12_400: "12.4s", 184_000: "3m04s",
		7_500_000: "2h05m", 273_600_000: "3d04h"} {
		if got := human(ms); got != want {
			t.Errorf("human(%d) = %q, want %q", ms, got, want)
		}
	}
}
