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
	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/archiver/blob/blobtest"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// grayPNG is a w×1 PNG.
func grayPNG(t *testing.T, w int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, 1))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// mediaOnDisk is the real media service on a real disk store.
func mediaOnDisk(t *testing.T, e *env) (*media.Service, blob.Store) {
	t.Helper()
	store, _ := blobtest.Disk(t)
	svc, err := media.New(store, e.db, media.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return svc, store
}

// storeImage sends a w×1 PNG through the media service into room and
// returns its key.
func storeImage(t *testing.T, svc *media.Service, room string, w int) string {
	t.Helper()
	body := `{"type":"image","image":{"data":"` + base64.StdEncoding.EncodeToString(grayPNG(t, w)) + `"}}`
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
	svc, store := mediaOnDisk(t, e)
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

// TestRetentionDeletesUnclaimedUploads: with an upload TTL, uploads that no
// SEND claimed go once older than it (store and record); younger uploads,
// claimed uploads and sent images stay, in a room that keeps media forever.
func TestRetentionDeletesUnclaimedUploads(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	svc, store := mediaOnDisk(t, e)
	e.createRoom("up1", rcpdb.RoomsKindGroup, 0, 0, time.Time{})
	upload := func(w int) string {
		b := grayPNG(t, w)
		img, err := svc.Upload(ctx, "up1", "alice", "", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return img.Key
	}
	unused, claimed := []string{upload(1), upload(2), upload(3)}, upload(4)
	if _, err := svc.PrepareSend(ctx, "up1", "alice", "c-1", []byte(`{"type":"image","image":{"key":"`+claimed+`"}}`)); err != nil {
		t.Fatal(err)
	}
	sent := storeImage(t, svc, "up1", 5)
	if _, err := e.db.ExecContext(ctx, "UPDATE blobs SET created_at = ?", now.Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	young := upload(6)

	r := archiver.NewRetention(e.b, e.db, archiver.RetentionConfig{UploadTTL: 24 * time.Hour, Batch: 2, Blobs: svc})
	st, err := r.RunOnce(ctx, now)
	if err != nil || st.Uploads != 3 || st.Blobs != 0 {
		t.Fatalf("retention: %+v, %v; want the 3 unused uploads", st, err)
	}
	for _, key := range unused {
		if rc, _, err := store.Get(ctx, key); err == nil {
			rc.Close()
			t.Errorf("unused upload %s still stored", key)
		}
	}
	for _, key := range []string{claimed, sent, young} {
		rc, _, err := store.Get(ctx, key)
		if err != nil {
			t.Errorf("%s deleted: %v", key, err)
			continue
		}
		rc.Close()
	}
	off := archiver.NewRetention(e.b, e.db, archiver.RetentionConfig{Batch: 2, Blobs: svc})
	if st, err := off.RunOnce(ctx, now.Add(48*time.Hour)); err != nil || st.Uploads != 0 {
		t.Fatalf("retention without an upload TTL: %+v, %v; want nothing deleted", st, err)
	}
}
