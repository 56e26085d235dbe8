package archiver_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/queries/queriestest"
)

// accounted lists each room's ids found in MySQL or in the stream, in
// order and without duplicates, and a checksum over (room, id, body).
func (e *env) accounted(rooms []string) (map[string][]string, [32]byte) {
	e.t.Helper()
	h := sha256.New()
	out := map[string][]string{}
	for _, r := range rooms {
		seen := map[string]bool{}
		for _, m := range e.rows(r) {
			id := rowID(m)
			seen[id] = true
			out[r] = append(out[r], id)
			fmt.Fprintf(h, "%s %s %s\n", r, id, m.Body)
		}
		hot, err := e.b.Range(context.Background(), r, "", 1<<20)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, en := range hot {
			if !seen[en.ID] {
				out[r] = append(out[r], en.ID)
				fmt.Fprintf(h, "%s %s %s\n", r, en.ID, en.Body)
			}
		}
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return out, sum
}

func TestMySQLDownMidPassTrimsNothingUnarchivedAndCatchesUp(t *testing.T) {
	srv := queriestest.StartServer(t)
	e := newEnvOn(t, srv.NewDB("rcp"))
	ctx := context.Background()
	var rooms []string
	want := map[string][]string{}
	for i := range 20 {
		r := fmt.Sprintf("room%02d", i)
		rooms = append(rooms, r)
		want[r] = e.fill(r, "alice", []string{"alice"}, 2000, daysAgo(10)+int64(i), 10)
	}
	_, wantSum := e.accounted(rooms) // everything still in Redis: the bodies as sent

	a := e.archiver(archiver.Config{HotWindow: week, BatchRows: 2048, Workers: 2})
	done := make(chan archiver.PassStats)
	go func() { done <- a.RunOnce(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for total := int64(0); total < 1000; {
		if time.Now().After(deadline) {
			t.Fatal("archiver wrote nothing within 20s")
		}
		time.Sleep(10 * time.Millisecond)
		total = 0
		for _, r := range rooms {
			n, _ := e.q.CountRoomMessages(ctx, r)
			total += n
		}
	}
	srv.Kill() // mid pass
	st := <-done
	if st.Err == nil {
		t.Fatalf("pass with MySQL killed: %+v, want an error", st)
	}
	t.Logf("pass cut by the MySQL kill: %+v", st)
	// Another pass while MySQL is down: it fails, nothing changes.
	lens := map[string]int64{}
	for _, r := range rooms {
		lens[r] = e.streamLen(r)
	}
	if st := a.RunOnce(ctx); st.Err == nil || st.Trimmed != 0 {
		t.Fatalf("pass while MySQL is down: %+v", st)
	}
	for _, r := range rooms {
		if n := e.streamLen(r); n != lens[r] {
			t.Fatalf("%s trimmed from %d to %d while MySQL was down", r, lens[r], n)
		}
	}

	srv.Start()
	got, sum := e.accounted(rooms)
	for _, r := range rooms {
		if !slices.Equal(got[r], want[r]) {
			t.Fatalf("%s after the outage: %d entries accounted for in MySQL or Redis, want %d", r, len(got[r]), len(want[r]))
		}
	}
	if sum != wantSum {
		t.Fatal("bodies changed across the outage")
	}
	st = a.RunOnce(ctx)
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	got, sum = e.accounted(rooms)
	for _, r := range rooms {
		if n := len(e.rows(r)); n != 2000 || e.streamLen(r) != 0 || !slices.Equal(got[r], want[r]) {
			t.Fatalf("%s after catching up: %d rows, %d in the stream", r, n, e.streamLen(r))
		}
	}
	if sum != wantSum {
		t.Fatal("checksum of the bodies differs after catching up")
	}
}
