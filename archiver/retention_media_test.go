package archiver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/archiver/blob/blobtest"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// storeImage sends a w×1 PNG through the media service into room and
// returns its key.
func storeImage(t *testing.T, svc *media.Service, room string, w int) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, 1))); err != nil {
		t.Fatal(err)
	}
	body := `{"type":"image","image":{"data":"` + base64.StdEncoding.EncodeToString(b.Bytes()) + `"}}`
	stored, err := svc.PrepareSend(context.Background(), room, "alice", "", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Image struct{ Key string } }
	if err := json.Unmarshal(stored, &v); err != nil {
		t.Fatal(err)
	}
	return v.Image.Key
}

// TestRetentionDeletesMediaOfItsRoomOnly runs the retention job with the
// real media service on a real disk store: a room's images past its media
// days go (store and record), younger ones and other rooms' stay, and an
// expired O2O room loses all of its images.
func TestRetentionDeletesMediaOfItsRoomOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	store, _ := blobtest.Disk(t)
	svc, err := media.New(store, e.db, media.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.createRoom("media1", rcpdb.RoomsKindGroup, 0, 1, time.Time{})
	e.createRoom("keep", rcpdb.RoomsKindGroup, 0, 0, time.Time{})
	e.createRoom("order-old", rcpdb.RoomsKindO2o, 0, 0, now.Add(-31*24*time.Hour))
	old := map[string][]string{}
	for i, room := range []string{"media1", "keep", "order-old"} {
		for j := range 3 {
			old[room] = append(old[room], storeImage(t, svc, room, 1+10*i+j))
		}
	}
	// Age them two days; then one fresh image per room.
	if _, err := e.db.ExecContext(ctx, "UPDATE blobs SET created_at = ?", now.Add(-48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	fresh := map[string]string{}
	for i, room := range []string{"media1", "keep", "order-old"} {
		fresh[room] = storeImage(t, svc, room, 100+i)
	}

	r := archiver.NewRetention(e.b, e.db, archiver.RetentionConfig{O2OExpiry: 30 * 24 * time.Hour, Batch: 2, Blobs: svc})
	st, err := r.RunOnce(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 3+4 {
		t.Fatalf("retention deleted %d blobs, want media1's 3 old ones and order-old's 4", st.Blobs)
	}
	gone := append(append([]string{}, old["media1"]...), append(old["order-old"], fresh["order-old"])...)
	kept := append(append([]string{}, old["keep"]...), fresh["keep"], fresh["media1"])
	for _, key := range gone {
		if rc, _, err := store.Get(ctx, key); err == nil {
			rc.Close()
			t.Errorf("%s still stored", key)
		}
		if row, err := e.q.GetBlob(ctx, key); err != nil || !row.DeletedAt.Valid {
			t.Errorf("%s: deletion not recorded (%v, %v)", key, row.DeletedAt, err)
		}
	}
	for _, key := range kept {
		rc, _, err := store.Get(ctx, key)
		if err != nil {
			t.Errorf("%s deleted: %v", key, err)
			continue
		}
		rc.Close()
	}
	if again, err := r.RunOnce(ctx, now); err != nil || again.Blobs != 0 {
		t.Fatalf("second run deleted %d blobs (%v), want 0", again.Blobs, err)
	}
}
