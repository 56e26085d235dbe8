package main_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
	"github.com/rcp/rcp/stomp"
)

// TestOfflineSyncAcrossTheArchive: bob is offline while 500 messages
// arrive in 20 rooms and the archiver (hot window 2 s, ledger max age 4 s)
// moves the first 250 to MySQL and trims them; bob syncs back exactly the
// 500, in order, without duplicates, half from MySQL, with the MESSAGE
// headers a live subscriber saw.
func TestOfflineSyncAcrossTheArchive(t *testing.T) {
	e := newEnv(t)
	e.Extra = []string{"RCP_HOT_WINDOW=2s", "RCP_LEDGER_MAX_AGE=4s", "RCP_ARCHIVE_INTERVAL=200ms",
		"RCP_SEND_RATE=5000", "RCP_SEND_BURST=5000"}
	n := e.start()
	b, q := e.broker(), rcpdb.New(e.db())
	rooms := make([]string, 20)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("s%02d", i)
		n.createRoom(rooms[i], "alice", "bob", "carol")
	}
	alice, carol := n.rawConnect("alice"), n.rawConnect("carol")
	carol.subscribe("live", rooms[0], "auto")

	// Bob's last session: one message in each of the first ten rooms.
	for _, r := range rooms[:10] {
		sendText(t, alice, r, "hello "+r)
	}
	bob := n.rawConnect("bob")
	bob.subscribeEvents()
	first, _ := bob.syncSTOMP("first", map[string]string{})
	cursors := map[string]string{}
	for _, r := range first.Rooms {
		cursors[r.Room] = r.Newest
	}
	if len(first.Rooms) != 10 || len(cursors) != 10 {
		t.Fatalf("first sync %+v", first)
	}
	bob.close()

	want := map[string][]sent{}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			r := rooms[i%len(rooms)]
			want[r] = append(want[r], sendText(t, alice, r, fmt.Sprintf("m%03d", i)))
		}
	}
	send(0, 250)
	// The archiver moves them: MySQL holds them and no stream does.
	waitUntil(t, 30*time.Second, "first 250 archived and trimmed", func() bool {
		for _, r := range rooms {
			last := want[r][len(want[r])-1].id
			if hot, _ := b.Range(context.Background(), r, "", 1); len(hot) > 0 && compareID(hot[0].ID, last) <= 0 {
				return false
			}
		}
		return true
	})
	send(250, 500)
	var live []*stomp.Frame
	for len(live) < 26 { // hello s00, then s00's 25
		m, err := carol.nextE(5 * time.Second)
		if err != nil {
			t.Fatalf("carol got %d live messages: %v\n%s", len(live), err, n.Log)
		}
		live = append(live, m)
	}

	bob = n.rawConnect("bob")
	bob.subscribeEvents()
	again, ev := bob.syncSTOMP("again", cursors)
	if ev.Header.Value("x-request-id") != "again" || again.RequestID != "again" || again.Type != "sync" {
		t.Fatalf("sync reply headers %v body %+v", ev.Header, again)
	}
	inMySQL := 0
	for _, r := range rooms {
		n, _ := q.CountRoomMessages(context.Background(), r)
		inMySQL += int(n)
	}
	t.Logf("at sync time %d of the %d messages (and hellos) are in MySQL", inMySQL, 510)
	if len(again.Rooms) != 20 {
		t.Fatalf("sync lists %d rooms, want 20", len(again.Rooms))
	}
	total := int64(0)
	for i, sr := range again.Rooms {
		w := want[rooms[i]]
		seq := int64(25)
		if i < 10 {
			seq = 26
		}
		if sr.Room != rooms[i] || sr.Newest != w[24].id || sr.Seq != seq || sr.Count != 25 || sr.Pending > 25 {
			t.Fatalf("room %d: %+v, want newest %s seq %d count 25", i, sr, w[24].id, seq)
		}
		total += sr.Count
	}
	if total != 500 {
		t.Fatalf("sync counts %d", total)
	}

	// Rooms s00–s04 through SUBSCRIBE x-since, the others through REST.
	for i, r := range rooms {
		var got []string
		if i < 5 {
			bob.subscribe("h-"+r, r, "auto", "x-since", cursors[r])
			ms := bob.nextN(25)
			for _, m := range ms {
				got = append(got, m.Header.Value("x-stream-id"))
				checkBody(t, m.Body, want[r], m.Header.Value("x-stream-id"))
			}
			if r == rooms[0] {
				for k, m := range ms {
					if headerSubset(m) != headerSubset(live[1+k]) || string(m.Body) != string(live[1+k].Body) {
						t.Fatalf("replayed MESSAGE %d:\n%s\nlive:\n%s", k, headerSubset(m), headerSubset(live[1+k]))
					}
				}
			}
		} else {
			got = pageAll(t, n, r, cursors[r], want[r])
		}
		if !slices.Equal(got, ids(want[r]...)) {
			t.Fatalf("%s: got %d ids %v\nwant %d %v", r, len(got), got, len(want[r]), ids(want[r]...))
		}
	}

	// ACK up to the newest over REST clears bob's ledger.
	for _, sr := range again.Rooms {
		if code := n.userAPI("bob", "POST", "/v1/rooms/"+sr.Room+"/ack", map[string]string{"upTo": sr.Newest}, nil); code != 200 {
			t.Fatalf("ack %s: %d", sr.Room, code)
		}
		cursors[sr.Room] = sr.Newest
	}
	var after syncReply
	if code := n.userAPI("bob", "POST", "/v1/sync", map[string]any{"cursors": cursors}, &after); code != 200 || len(after.Rooms) != 0 {
		t.Fatalf("sync after catching up: %d %+v", code, after)
	}
	for _, r := range rooms {
		if p, err := b.Pending(context.Background(), r, "bob", "", 100); err != nil || len(p) != 0 {
			t.Fatalf("bob still has %d pending in %s (%v)", len(p), r, err)
		}
	}
}

// pageAll reads the room after cursor through REST pages of 7.
func pageAll(t *testing.T, n *node, room, cursor string, want []sent) []string {
	t.Helper()
	if cursor == "" {
		cursor = "0"
	}
	var got []string
	for range 10 {
		var p messagesPage
		if code := n.userAPI("bob", "GET", "/v1/rooms/"+room+"/messages?limit=7&after="+cursor, nil, &p); code != 200 {
			t.Fatalf("page %s after %s: %d", room, cursor, code)
		}
		for _, m := range p.Messages {
			got = append(got, m.ID)
			checkBody(t, m.Body, want, m.ID)
			if m.Sender != "alice" || m.Type != "text" || strconv.FormatInt(m.TS, 10) != m.ID[:len(strconv.FormatInt(m.TS, 10))] {
				t.Fatalf("message %+v", m)
			}
		}
		if p.Next == nil {
			return got
		}
		cursor = *p.Next
	}
	t.Fatalf("%s: more than 10 pages", room)
	return nil
}

// checkBody fails unless body is what was sent with that id.
func checkBody(t *testing.T, body []byte, want []sent, id string) {
	t.Helper()
	for _, s := range want {
		if s.id == id {
			if string(body) != storedText(s.text) {
				t.Fatalf("%s: body %s, want %s", id, body, storedText(s.text))
			}
			return
		}
	}
	t.Fatalf("%s was not sent", id)
}

func compareID(a, b string) int {
	x, _ := broker.ParseID(a)
	y, _ := broker.ParseID(b)
	switch {
	case x.Less(y):
		return -1
	case y.Less(x):
		return 1
	}
	return 0
}
