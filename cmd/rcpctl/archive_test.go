package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/queries/queriestest"
)

func TestArchiveStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := archiver.LoadFunctions(ctx, f.b); err != nil {
		t.Fatal(err)
	}
	f.join("42", "alice")
	for range 5 {
		if _, err := f.b.Send(ctx, broker.SendRequest{Room: "42", Sender: "alice", Type: "text", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	a := archiver.New(f.b, queriestest.NewDB(t), archiver.Config{HotWindow: time.Millisecond, Owner: "node-a"})
	if st := a.RunOnce(ctx); st.Err != nil || st.Rows != 5 {
		t.Fatalf("archive %+v", st)
	}
	var rep archiveReport
	f.runJSON(&rep, "archive", "status")
	p := rep.Partitions[broker.Partition("42", 4)]
	if len(rep.Partitions) != 4 || rep.Rows != 5 || rep.Trimmed != 5 || p.Rows != 5 || p.Rooms != 1 ||
		p.LastOwner != "node-a" || p.LeaseOwner != "" || p.Error != "" || p.HotWindowMs != 1 {
		t.Fatalf("status %+v", rep)
	}
	out, err := f.run("archive", "status")
	if err != nil || !strings.Contains(out, "total: 5 rows archived, 5 entries trimmed, 0 expired acknowledged; max lag 0ms") {
		t.Fatalf("text: %v\n%s", err, out)
	}
	t.Logf("rcpctl archive status:\n%s", out)
	if _, err := f.run("archive"); err == nil {
		t.Fatal("archive without status succeeded")
	}
}
