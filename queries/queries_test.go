package queries_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// The queries are exercised against the real schema: these tests catch SQL
// that compiles under sqlc but misbehaves on MariaDB (collation, ordering,
// unsigned ranges, JSON, idempotent inserts).

func TestIdentifiersAreCaseSensitiveAndTextIsUTF8MB4(t *testing.T) {
	ctx := t.Context()
	q := rcpdb.New(queriestest.NewDB(t))
	createRoom(t, q, "lobby")
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, user := range []string{"alice", "Alice"} {
		n, err := q.AddMember(ctx, rcpdb.AddMemberParams{RoomID: "lobby", UserID: user, Role: rcpdb.RoomMembersRoleMember, JoinedAt: now})
		if err != nil || n != 1 {
			t.Fatalf("add %s: %d rows, %v", user, n, err)
		}
	}
	if n, err := q.CountRoomMembers(ctx, "lobby"); err != nil || n != 2 {
		t.Fatalf("members = %d, %v; want alice and Alice as two users", n, err)
	}
	if _, err := q.GetRoom(ctx, "LOBBY"); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("GetRoom(LOBBY) = %v, want sql.ErrNoRows (ids are case-sensitive)", err)
	}

	name := "Café 🍕 家"
	n, err := q.CreateRoom(ctx, rcpdb.CreateRoomParams{ID: "emoji", Name: name, Kind: rcpdb.RoomsKindO2o,
		CreatedAt: now, SpecSha256: make([]byte, 32),
		PushPreview: rcpdb.NullRoomsPushPreview{RoomsPushPreview: rcpdb.RoomsPushPreviewSender, Valid: true}})
	if err != nil || n != 1 {
		t.Fatalf("create emoji room: %d, %v", n, err)
	}
	r, err := q.GetRoom(ctx, "emoji")
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != name || !r.CreatedAt.Equal(now) || r.PushPreview.RoomsPushPreview != rcpdb.RoomsPushPreviewSender {
		t.Fatalf("room round trip: got %+v", r)
	}
}

func TestMessagesPageInStreamOrder(t *testing.T) {
	ctx := t.Context()
	q := rcpdb.New(queriestest.NewDB(t))
	ids := [][2]uint64{{1700000000000, 0}, {1700000000000, 1}, {1700000000001, 0}, {math.MaxUint64, math.MaxUint64}}
	for i, id := range ids {
		insertMessage(t, q, "r", id, uint64(i+1))
		// Archiving the same entry twice is a no-op.
		if n := insertMessage(t, q, "r", id, uint64(i+1)); n != 0 {
			t.Fatalf("re-insert of %v: %d rows, want 0", id, n)
		}
	}
	after, err := q.ListMessagesAfter(ctx, rcpdb.ListMessagesAfterParams{RoomID: "r", AfterMs: ids[0][0], AfterSeq: ids[0][1], Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := streamIDs(after); !equalIDs(got, ids[1:]) {
		t.Fatalf("after %v: %v, want %v", ids[0], got, ids[1:])
	}
	before, err := q.ListMessagesBefore(ctx, rcpdb.ListMessagesBeforeParams{RoomID: "r", BeforeMs: ids[3][0], BeforeSeq: ids[3][1], Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := streamIDs(before), [][2]uint64{ids[2], ids[1]}; !equalIDs(got, want) {
		t.Fatalf("before %v limit 2: %v, want %v", ids[3], got, want)
	}
	if !json.Valid(before[0].Body) || !bytes.Contains(before[0].Body, []byte(`"hi"`)) {
		t.Fatalf("body = %s", before[0].Body)
	}
	newest, err := q.NewestArchivedMessage(ctx, "r")
	if err != nil || newest.IDMs != math.MaxUint64 || newest.Seq != 4 {
		t.Fatalf("newest = %+v, %v", newest, err)
	}
	n, err := q.DeleteMessagesBefore(ctx, rcpdb.DeleteMessagesBeforeParams{RoomID: "r", CutoffMs: 1700000000001, Limit: 1})
	if err != nil || n != 1 {
		t.Fatalf("delete batch of 1: %d, %v", n, err)
	}
	rest, err := q.ListMessagesAfter(ctx, rcpdb.ListMessagesAfterParams{RoomID: "r", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := streamIDs(rest); !equalIDs(got, ids[1:]) {
		t.Fatalf("after deleting the oldest: %v, want %v", got, ids[1:])
	}
}

func TestDevicesMoveBetweenUsers(t *testing.T) {
	ctx := t.Context()
	q := rcpdb.New(queriestest.NewDB(t))
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, user := range []string{"alice", "bob"} {
		err := q.UpsertDevice(ctx, rcpdb.UpsertDeviceParams{Token: "tok1", UserID: user, Platform: rcpdb.DevicesPlatformAndroid, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
	}
	alice, err := q.ListUserDevices(ctx, "alice")
	if err != nil || len(alice) != 0 {
		t.Fatalf("alice's devices: %v, %v; the token moved to bob", alice, err)
	}
	bob, err := q.ListUserDevices(ctx, "bob")
	if err != nil || len(bob) != 1 || bob[0].Token != "tok1" {
		t.Fatalf("bob's devices: %v, %v", bob, err)
	}
	if n, err := q.DeleteUserDevice(ctx, rcpdb.DeleteUserDeviceParams{Token: "tok1", UserID: "alice"}); err != nil || n != 0 {
		t.Fatalf("alice deletes bob's token: %d, %v; want 0 rows", n, err)
	}
	if n, err := q.DeleteDevice(ctx, "tok1"); err != nil || n != 1 {
		t.Fatalf("delete token: %d, %v", n, err)
	}
}

func TestBlobRetention(t *testing.T) {
	ctx := t.Context()
	q := rcpdb.New(queriestest.NewDB(t))
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, key := range []string{"r/old", "r/new"} {
		err := q.InsertBlob(ctx, rcpdb.InsertBlobParams{BlobKey: key, RoomID: "r", OwnerID: "alice",
			ContentType: "image/png", Size: 42, Sha256: bytes.Repeat([]byte{byte(i)}, 32),
			CreatedAt: old.AddDate(i*10, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
	}
	cutoff := old.AddDate(1, 0, 0)
	due, err := q.ListRoomBlobsCreatedBefore(ctx, rcpdb.ListRoomBlobsCreatedBeforeParams{RoomID: "r", Cutoff: cutoff, Limit: 10})
	if err != nil || len(due) != 1 || due[0].BlobKey != "r/old" {
		t.Fatalf("due blobs: %+v, %v", due, err)
	}
	now := sql.NullTime{Time: time.Now().UTC(), Valid: true}
	for want := int64(1); want >= 0; want-- { // the second mark is a no-op
		if n, err := q.MarkBlobDeleted(ctx, rcpdb.MarkBlobDeletedParams{DeletedAt: now, BlobKey: "r/old"}); err != nil || n != want {
			t.Fatalf("mark deleted: %d, %v; want %d", n, err, want)
		}
	}
	due, err = q.ListRoomBlobsCreatedBefore(ctx, rcpdb.ListRoomBlobsCreatedBeforeParams{RoomID: "r", Cutoff: cutoff, Limit: 10})
	if err != nil || len(due) != 0 {
		t.Fatalf("due blobs after delete: %+v, %v", due, err)
	}
}

// TestBlobClaimOnce: an upload is claimed by its owner, in its room, once.
func TestBlobClaimOnce(t *testing.T) {
	ctx := t.Context()
	q := rcpdb.New(queriestest.NewDB(t))
	err := q.InsertBlob(ctx, rcpdb.InsertBlobParams{BlobKey: "rooms/r/u1.png", RoomID: "r", OwnerID: "alice",
		ContentType: "image/png", Size: 42, Sha256: make([]byte, 32), Width: 3, Height: 2, Name: "ü.png",
		CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	now := sql.NullTime{Time: time.Now().UTC(), Valid: true}
	claim := func(owner, room string) int64 {
		n, err := q.ClaimBlob(ctx, rcpdb.ClaimBlobParams{ClaimedAt: now, ClaimClient: sql.NullString{String: "c1", Valid: true},
			BlobKey: "rooms/r/u1.png", OwnerID: owner, RoomID: room})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := claim("bob", "r"); n != 0 {
		t.Fatalf("bob claimed alice's upload: %d rows", n)
	}
	if n := claim("alice", "other"); n != 0 {
		t.Fatalf("claimed in another room: %d rows", n)
	}
	if n := claim("alice", "r"); n != 1 {
		t.Fatalf("owner's claim: %d rows, want 1", n)
	}
	if n := claim("alice", "r"); n != 0 {
		t.Fatalf("second claim: %d rows, want 0", n)
	}
	// Unclaimed uploads (NULL claim) coexist; one x-client-id claims one.
	err = q.InsertBlob(ctx, rcpdb.InsertBlobParams{BlobKey: "rooms/r/u2.png", RoomID: "r", OwnerID: "alice",
		ContentType: "image/png", Size: 42, Sha256: make([]byte, 32), CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatalf("second unclaimed upload: %v", err)
	}
	_, err = q.ClaimBlob(ctx, rcpdb.ClaimBlobParams{ClaimedAt: now, ClaimClient: sql.NullString{String: "c1", Valid: true},
		BlobKey: "rooms/r/u2.png", OwnerID: "alice", RoomID: "r"})
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1062 {
		t.Fatalf("a second image under x-client-id c1: %v, want duplicate key 1062", err)
	}
	byClaim, err := q.GetClaimedBlob(ctx, rcpdb.GetClaimedBlobParams{RoomID: "r", OwnerID: "alice", ClaimClient: sql.NullString{String: "c1", Valid: true}})
	if err != nil || byClaim.BlobKey != "rooms/r/u1.png" {
		t.Fatalf("image of c1: %+v, %v", byClaim, err)
	}
	b, err := q.GetBlob(ctx, "rooms/r/u1.png")
	if err != nil || !b.ClaimedAt.Valid || b.ClaimClient.String != "c1" || b.Width != 3 || b.Height != 2 || b.Name != "ü.png" {
		t.Fatalf("blob after claim: %+v, %v", b, err)
	}
}

func insertMessage(t *testing.T, q *rcpdb.Queries, room string, id [2]uint64, seq uint64) int64 {
	t.Helper()
	n, err := q.InsertMessage(t.Context(), rcpdb.InsertMessageParams{
		RoomID: room, IDMs: id[0], IDSeq: id[1], Seq: seq, SenderID: "alice", Type: "text",
		Body: json.RawMessage(`{"type":"text","text":"hi"}`), CreatedAt: time.Now().UTC(),
	})
	if err != nil {
		t.Fatalf("insert message %v: %v", id, err)
	}
	return n
}

func streamIDs(ms []rcpdb.Message) [][2]uint64 {
	out := make([][2]uint64, len(ms))
	for i, m := range ms {
		out[i] = [2]uint64{m.IDMs, m.IDSeq}
	}
	return out
}

func equalIDs(a, b [][2]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
