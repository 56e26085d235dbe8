package ackpending_test

import (
	"testing"
	"time"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/archiver"
)

// The archiver hands expired pending entries to the escalator.
var _ archiver.Escalator = (*ackpending.Escalator)(nil)

func TestLastCallPushesOnlyWhatWasNeverPushed(t *testing.T) {
	e := newEnv(t, 300*time.Millisecond, 4)
	e.room("r1", "alice", "bob")
	e.device("bob", "tok-bob")
	e.send("r1", "alice", "one")
	id := e.send("r1", "alice", "two").ID
	esc := ackpending.NewEscalator(e.rdb, e.db, e.devices, e.sender(), e.cfg)
	if err := esc.LastCall(t.Context(), "r1", "bob", e.pending("r1", "bob")); err != nil {
		t.Fatal(err)
	}
	got := e.emu.Accepted()
	if len(got) != 1 || got[0].Message.Data["newest"] != id || got[0].Message.Data["count"] != "2" || got[0].Message.Data["new"] != "2" {
		t.Fatalf("last call pushes %+v", got)
	}
	// Entries pushed before (delivery count 2) send nothing new.
	e.room("r2", "alice", "carol")
	e.device("carol", "tok-carol")
	e.start(e.cfg)
	e.send("r2", "alice", "hi carol")
	e.waitDeliveries("r2", "carol", 2)
	// The escalator also pushes bob's r1 entries (a last call does not bump
	// them); the two rooms may come due in one claim, so wait for that push
	// too before counting.
	e.waitDeliveries("r1", "bob", 2, 2)
	before := len(e.emu.Requests())
	if err := esc.LastCall(t.Context(), "r2", "carol", e.pending("r2", "carol")); err != nil {
		t.Fatal(err)
	}
	if n := len(e.emu.Requests()); n != before {
		t.Fatalf("%d requests after a last call for a pushed entry, want %d", n, before)
	}
}
