package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// xpending reads the user's ledger in room straight from Redis.
func (f *fixture) xpending(room, user string) []pendingEntry {
	f.t.Helper()
	ps, err := f.b.Pending(context.Background(), room, user, "", 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]pendingEntry, len(ps))
	for i, p := range ps {
		out[i] = pendingEntry{ID: p.ID, IdleMs: p.Idle, Deliveries: p.Deliveries}
	}
	return out
}

// claim sets an entry's delivery count and idle time as a push would.
func (f *fixture) claim(room, user, id, retry, idleMs string) {
	f.t.Helper()
	k := f.b.KeysFor(room).Room(room)
	g := "u:" + user
	err := f.b.Redis().Do(context.Background(), "XCLAIM", k, g, g, "0", id, "IDLE", idleMs, "RETRYCOUNT", retry).Err()
	if err != nil {
		f.t.Fatal(err)
	}
}

func TestPendingOfOneRoomMatchesXPENDING(t *testing.T) {
	f := newFixture(t)
	f.join("r1", "alice", "bob", "carol")
	sent := f.send("r1", "alice", 3)
	if _, err := f.b.Ack(context.Background(), "r1", "bob", sent[1].ID); err != nil {
		t.Fatal(err)
	}
	f.claim("r1", "carol", sent[0].ID, "4", "90000")

	var rep pendingReport
	f.runJSON(&rep, "pending", "--user", "carol", "--room", "r1")
	want := f.xpending("r1", "carol")
	if rep.User != "carol" || rep.Total != 3 || len(rep.Rooms) != 1 || rep.Rooms[0].Pending != 3 || !rep.Rooms[0].Member {
		t.Fatalf("report %+v", rep)
	}
	got := rep.Rooms[0].Entries
	if len(got) != len(want) {
		t.Fatalf("entries %+v, XPENDING %+v", got, want)
	}
	for i, e := range got {
		if e.ID != want[i].ID || e.ID != sent[i].ID || e.Deliveries != want[i].Deliveries || e.IdleMs > want[i].IdleMs {
			t.Fatalf("entry %d: %+v, XPENDING %+v", i, e, want[i])
		}
	}
	// The claim set 90 s of idle time; it has grown by the time rcpctl reads it.
	if got[0].Deliveries != 4 || got[1].Deliveries != 1 || got[0].IdleMs < 90_000 || got[0].Idle != human(got[0].IdleMs) {
		t.Fatalf("claimed entry %+v, next %+v", got[0], got[1])
	}

	var bob pendingReport
	f.runJSON(&bob, "pending", "--user", "bob", "--room", "r1")
	if ids := entryIDs(bob); ids != sent[0].ID+","+sent[2].ID || bob.Total != 2 {
		t.Fatalf("bob after ack: %s total %d", ids, bob.Total)
	}
	var alice pendingReport
	f.runJSON(&alice, "pending", "--user", "alice", "--room", "r1")
	if alice.Total != 0 || len(alice.Rooms[0].Entries) != 0 {
		t.Fatalf("the sender's own entries are acknowledged at send: %+v", alice)
	}
}

func entryIDs(rep pendingReport) string {
	var ids []string
	for _, r := range rep.Rooms {
		for _, e := range r.Entries {
			ids = append(ids, e.ID)
		}
	}
	return strings.Join(ids, ",")
}

func TestPendingTextIsAligned(t *testing.T) {
	f := newFixture(t)
	f.join("r1", "alice", "bob")
	sent := f.send("r1", "alice", 3)
	f.claim("r1", "bob", sent[0].ID, "2", "7200000")
	out, err := f.run("pending", "--user", "bob", "--room", "r1", "--count", "2")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{
		`^ROOM  STREAM ID +IDLE +DELIVERIES$`,
		`^r1    ` + regexp.QuoteMeta(sent[0].ID) + ` +2h00m +2$`,
		`^r1    ` + regexp.QuoteMeta(sent[1].ID) + ` +(\d+ms|\d+\.\ds) +1$`, // idle since the send: under a second, or a few on a loaded machine
		`^r1    … 1 more +$`,
		`^3 pending for bob in 1 room\(s\)$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Fatalf("line %d %q does not match %s; output:\n%s", i, lines[i], re, out)
		}
	}
	col := strings.Index(lines[0], "IDLE")
	if strings.Index(lines[1], "2h00m") != col {
		t.Fatalf("IDLE column not aligned:\n%s", out)
	}
}

func TestPendingOverTheUsersRoomsFromMySQL(t *testing.T) {
	f := newFixture(t)
	f.withMySQL(map[string][]string{"ra": {"alice", "bob"}, "rb": {"bob", "carol"}, "rc": {"alice", "carol"}})
	f.send("ra", "alice", 2)
	f.send("rb", "carol", 3)
	f.send("rc", "alice", 1)

	var rep pendingReport
	f.runJSON(&rep, "pending", "--user", "bob")
	if rep.Total != 5 || len(rep.Rooms) != 2 || rep.Rooms[0].Room != "ra" || rep.Rooms[1].Room != "rb" {
		t.Fatalf("bob's rooms from MySQL: %+v", rep)
	}
	for _, r := range rep.Rooms {
		want := f.xpending(r.Room, "bob")
		if r.Pending != int64(len(want)) || len(r.Entries) != len(want) {
			t.Fatalf("room %s: %+v, XPENDING %+v", r.Room, r, want)
		}
		for i, e := range r.Entries {
			if e.ID != want[i].ID || e.Deliveries != 1 {
				t.Fatalf("room %s entry %d: %+v, XPENDING %+v", r.Room, i, e, want[i])
			}
		}
	}

	var listed pendingReport
	f.runJSON(&listed, "pending", "--user", "bob", "--rooms", "ra,rc")
	if listed.Total != 2 || len(listed.Rooms) != 2 || !listed.Rooms[0].Member || listed.Rooms[1].Member || listed.Rooms[1].Pending != 0 {
		t.Fatalf("--rooms ra,rc: %+v", listed)
	}
}
