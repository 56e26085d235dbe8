package archiver_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

func (e *env) createRoom(id string, kind rcpdb.RoomsKind, text, media uint32, closedAt time.Time) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.q.CreateRoom(ctx, rcpdb.CreateRoomParams{ID: id, Name: id, Kind: kind, CreatedAt: time.Now().UTC(),
		TextRetentionDays: text, MediaRetentionDays: media, SpecSha256: make([]byte, 32)})
	if err != nil {
		e.t.Fatal(err)
	}
	if !closedAt.IsZero() {
		if _, err := e.q.CloseRoom(ctx, rcpdb.CloseRoomParams{ID: id, ClosedAt: sql.NullTime{Time: closedAt, Valid: true}}); err != nil {
			e.t.Fatal(err)
		}
	}
}

// insertAged archives a text and an image message of each age (days
// before now) in room, labelled "text@2.5" and so on.
func (e *env) insertAged(room string, now time.Time, ages ...float64) {
	e.t.Helper()
	seq := uint64(0)
	for _, age := range ages {
		for _, typ := range []string{"text", "image"} {
			seq++
			ms := now.Add(-time.Duration(age * float64(24*time.Hour))).UnixMilli()
			_, err := e.q.InsertMessage(context.Background(), rcpdb.InsertMessageParams{RoomID: room,
				IDMs: uint64(ms), IDSeq: seq, Seq: seq, SenderID: "alice", Type: typ,
				Body: []byte(fmt.Sprintf(`{"type":%q,"label":"%s@%g"}`, typ, typ, age)), CreatedAt: time.UnixMilli(ms).UTC()})
			if err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// labels lists the room's remaining rows as "type@age", sorted.
func (e *env) labels(room string) []string {
	e.t.Helper()
	var out []string
	for _, m := range e.rows(room) {
		var v struct{ Label string }
		if err := json.Unmarshal(m.Body, &v); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, v.Label)
	}
	slices.Sort(out)
	return out
}

func TestRetentionDeletesExactlyTheRowsPastPolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ages := []float64{0.5, 1.5, 2.5, 3.5}
	e.createRoom("keep", rcpdb.RoomsKindGroup, 0, 0, time.Time{})
	e.createRoom("text2", rcpdb.RoomsKindGroup, 2, 0, time.Time{})
	e.createRoom("media1", rcpdb.RoomsKindGroup, 0, 1, time.Time{})
	e.createRoom("both", rcpdb.RoomsKindGroup, 3, 1, time.Time{})
	e.createRoom("order-old", rcpdb.RoomsKindO2o, 0, 0, now.Add(-31*24*time.Hour))
	e.createRoom("order-new", rcpdb.RoomsKindO2o, 0, 0, now.Add(-29*24*time.Hour))
	e.createRoom("group-closed", rcpdb.RoomsKindGroup, 0, 0, now.Add(-90*24*time.Hour))
	for _, r := range []string{"keep", "text2", "media1", "both", "order-old", "order-new", "group-closed"} {
		e.insertAged(r, now, ages...)
	}
	// The expiring room also lives in Redis: members, a stream, a head.
	e.fill("order-old", "alice", []string{"alice", "bob"}, 3, now.Add(-time.Hour).UnixMilli(), 1)

	r := archiver.NewRetention(e.b, e.db, archiver.RetentionConfig{O2OExpiry: 30 * 24 * time.Hour, Batch: 3})
	st, err := r.RunOnce(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st != (archiver.RetentionStats{Text: 2 + 1, Media: 3 + 3, ExpiredRows: 8, ExpiredRooms: 1}) {
		t.Fatalf("stats %+v", st)
	}
	all := []string{"text@0.5", "image@0.5", "text@1.5", "image@1.5", "text@2.5", "image@2.5", "text@3.5", "image@3.5"}
	want := map[string][]string{
		"keep":         all,
		"text2":        {"text@0.5", "image@0.5", "text@1.5", "image@1.5", "image@2.5", "image@3.5"},
		"media1":       {"text@0.5", "image@0.5", "text@1.5", "text@2.5", "text@3.5"},
		"both":         {"text@0.5", "image@0.5", "text@1.5", "text@2.5"},
		"order-old":    nil,
		"order-new":    all,
		"group-closed": all,
	}
	for room, w := range want {
		slices.Sort(w)
		if got := e.labels(room); !slices.Equal(got, w) {
			t.Errorf("%s keeps %v, want %v", room, got, w)
		}
	}
	if _, err := e.q.GetRoom(ctx, "order-old"); err != sql.ErrNoRows {
		t.Fatalf("expired room still in MySQL: %v", err)
	}
	if n, _ := e.q.CountRoomMembers(ctx, "order-old"); n != 0 {
		t.Fatalf("expired room has %d members left", n)
	}
	k := e.b.KeysFor("order-old")
	if n, _ := e.b.Redis().Exists(ctx, k.Room("order-old"), k.Members("order-old")).Result(); n != 0 {
		t.Fatalf("%d Redis keys of the expired room left", n)
	}
	if ok, _ := e.b.IsMember(ctx, "order-old", "bob"); ok {
		t.Fatal("bob still a member in Redis")
	}
	if _, err := e.b.Send(ctx, broker.SendRequest{Room: "order-old", Sender: "alice", Type: "text", Body: []byte(`{}`)}); err == nil {
		t.Fatal("send to an expired room succeeded")
	}
	again, err := r.RunOnce(ctx, now)
	if err != nil || again != (archiver.RetentionStats{}) {
		t.Fatalf("second run %+v %v, want nothing", again, err)
	}
}
