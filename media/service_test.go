package media

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/archiver/blob/blobtest"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// storeUnderTest is a real blob store and a way to count its blobs.
type storeUnderTest struct {
	blob.Store
	count func(t *testing.T) int
}

func stores() map[string]func(t *testing.T) storeUnderTest {
	return map[string]func(t *testing.T) storeUnderTest{
		"disk": func(t *testing.T) storeUnderTest {
			s, dir := blobtest.Disk(t)
			return storeUnderTest{s, func(t *testing.T) int { return countFiles(t, filepath.Join(dir, "objects")) }}
		},
		"s3": func(t *testing.T) storeUnderTest {
			s := blobtest.S3(t)
			return storeUnderTest{s, func(t *testing.T) int { return len(blobtest.Keys(t.Context(), t, s)) }}
		},
	}
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return n
}

// fixture is a service on a real store and a fresh MariaDB database.
type fixture struct {
	*Service
	store storeUnderTest
	db    *sql.DB
}

func newFixture(t *testing.T, newStore func(*testing.T) storeUnderTest, tune func(*Config)) fixture {
	st, db := newStore(t), queriestest.NewDB(t)
	cfg := DefaultConfig()
	cfg.URLTTL = time.Hour
	if tune != nil {
		tune(&cfg)
	}
	s, err := New(st, db, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{Service: s, store: st, db: db}
}

// each runs the test on both stores.
func each(t *testing.T, test func(t *testing.T, newStore func(*testing.T) storeUnderTest)) {
	for name, newStore := range stores() {
		t.Run(name, func(t *testing.T) { test(t, newStore) })
	}
}

func base64Body(data []byte, name string) []byte {
	return sendBody(base64.StdEncoding.EncodeToString(data), "image/png", name)
}

func decodeImage(t *testing.T, body []byte) Image {
	t.Helper()
	var b imageBody
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "image" {
		t.Fatalf("not an image body: %s (%v)", body, err)
	}
	return b.Image
}

func fetch(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestSendStoresThenDelivers(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, func(c *Config) { c.InlineMax = 4 << 10 })
		small, big := encodePNG(t, 4, 3), encodePNG(t, 300, 200)
		for _, data := range [][]byte{small, big} {
			stored, err := f.PrepareSend(t.Context(), "r1", "alice", "", base64Body(data, "a.png"))
			if err != nil {
				t.Fatal(err)
			}
			img := decodeImage(t, stored)
			sum := sha256Hex(data)
			if img.SHA256 != sum || img.Size != int64(len(data)) || img.ContentType != "image/png" ||
				img.Name != "a.png" || img.URL != "" || img.Data != nil || !strings.HasPrefix(img.Key, "rooms/r1/") {
				t.Fatalf("stored image %+v; want key under rooms/r1/, sha %s, %d bytes, no url or data", img, sum, len(data))
			}
			f.cache = newCache(f.cfg.CacheBytes) // deliver as another node would: from the store
			out := decodeImage(t, f.Deliverable(t.Context(), stored, true))
			if code, got := fetch(t, out.URL); code != http.StatusOK || string(got) != string(data) {
				t.Fatalf("GET url: %d, %d bytes; want the %d bytes", code, len(got), len(data))
			}
			wantInline := len(data) <= 4<<10
			if (out.Data != nil) != wantInline || wantInline && string(out.Data) != string(data) {
				t.Fatalf("inline data of a %d-byte image: %d bytes, want inline=%v", len(data), len(out.Data), wantInline)
			}
			if hist := decodeImage(t, f.Deliverable(t.Context(), stored, false)); hist.Data != nil || hist.URL == "" {
				t.Fatalf("history body: %+v; want url and no data", hist)
			}
		}
		if n := f.store.count(t); n != 2 {
			t.Fatalf("%d blobs stored, want 2", n)
		}
	})
}

func sha256Hex(b []byte) string {
	info, err := Inspect(b, DefaultLimits())
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(info.SHA256[:])
}

func TestSendRetryStoresOnce(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, nil)
		data := encodePNG(t, 5, 5)
		first, err := f.PrepareSend(t.Context(), "r1", "alice", "c-1", base64Body(data, ""))
		if err != nil {
			t.Fatal(err)
		}
		again, err := f.PrepareSend(t.Context(), "r1", "alice", "c-1", base64Body(data, ""))
		if err != nil || string(again) != string(first) {
			t.Fatalf("retry: %s, %v; want %s", again, err, first)
		}
		_, err = f.PrepareSend(t.Context(), "r1", "alice", "c-1", base64Body(encodePNG(t, 6, 6), ""))
		if !errors.Is(err, ErrClientIDReused) {
			t.Fatalf("other bytes under the same x-client-id: %v, want ErrClientIDReused", err)
		}
		gif := encodeGIF(t, 5, 5) // another format: another extension, same x-client-id
		if _, err := f.PrepareSend(t.Context(), "r1", "alice", "c-1", base64Body(gif, "")); !errors.Is(err, ErrClientIDReused) {
			t.Fatalf("a GIF under the PNG's x-client-id: %v, want ErrClientIDReused", err)
		}
		up := upload(t, f, "r1", "alice", encodePNG(t, 8, 8))
		if _, err := f.PrepareSend(t.Context(), "r1", "alice", "c-1", keyBody(up.Key)); !errors.Is(err, ErrClientIDReused) {
			t.Fatalf("an upload's key under a used x-client-id: %v, want ErrClientIDReused", err)
		}
		if _, err := f.PrepareSend(t.Context(), "r1", "alice", "c-2", keyBody(up.Key)); err != nil {
			t.Fatalf("the upload, refused above, is still unused: %v", err)
		}
		other, err := f.PrepareSend(t.Context(), "r1", "bob", "c-1", base64Body(data, ""))
		if err != nil || decodeImage(t, other).Key == decodeImage(t, first).Key {
			t.Fatalf("bob's c-1: %s, %v; want a key of his own", other, err)
		}
		if n := f.store.count(t); n != 3 {
			t.Fatalf("%d blobs stored, want 3 (alice's once, her upload, bob's)", n)
		}
	})
}

func upload(t *testing.T, f fixture, room, user string, data []byte) Image {
	t.Helper()
	img, err := f.Upload(t.Context(), room, user, "up.png", strings.NewReader(string(data)), int64(len(data)))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	return img
}

func keyBody(key string) []byte { return []byte(`{"type":"image","image":{"key":"` + key + `"}}`) }

func TestUploadClaimedOnceByOwner(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, nil)
		data := encodeJPEG(t, 7, 9)
		up := upload(t, f, "r1", "alice", data)
		if up.ContentType != "image/jpeg" || up.Width != 7 || up.Height != 9 || up.Size != int64(len(data)) {
			t.Fatalf("upload: %+v", up)
		}
		refuse := func(room, user, cid string, want error) {
			t.Helper()
			if _, err := f.PrepareSend(t.Context(), room, user, cid, keyBody(up.Key)); !errors.Is(err, want) {
				t.Fatalf("%s in %s (cid %q) sends the key: %v, want %v", user, room, cid, err, want)
			}
		}
		refuse("r1", "bob", "", ErrUnknownUpload)
		refuse("r2", "alice", "", ErrUnknownUpload)
		stored, err := f.PrepareSend(t.Context(), "r1", "alice", "c-9", keyBody(up.Key))
		if err != nil {
			t.Fatal(err)
		}
		if img := decodeImage(t, stored); img.Key != up.Key || img.SHA256 != up.SHA256 || img.Name != "up.png" {
			t.Fatalf("sent image %+v, uploaded %+v", img, up)
		}
		if again, err := f.PrepareSend(t.Context(), "r1", "alice", "c-9", keyBody(up.Key)); err != nil || string(again) != string(stored) {
			t.Fatalf("retry with the same x-client-id: %s, %v", again, err)
		}
		refuse("r1", "alice", "c-10", ErrUploadUsed)
		refuse("r1", "alice", "", ErrUploadUsed)
	})
}

func TestBadInputStoresNothing(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, func(c *Config) { c.Limits.MaxBytes = 64 << 10; c.Memory = 1 << 20 })
		pdf := []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
		html := []byte("<!DOCTYPE html><html><body>hi</body></html>")
		cases := map[string]struct {
			body []byte
			want error
		}{
			"bad base64":    {[]byte(`{"type":"image","image":{"data":"!!!!","contentType":"image/png"}}`), ErrBadBase64},
			"pdf as png":    {base64Body(pdf, ""), ErrNotImage},
			"html as png":   {base64Body(html, ""), ErrNotImage},
			"zero bytes":    {[]byte(`{"type":"image","image":{"data":"","contentType":"image/png"}}`), ErrEmpty},
			"too large":     {base64Body(make([]byte, 70<<10), ""), ErrTooLarge},
			"path in name":  {base64Body(encodePNG(t, 2, 2), "../../etc/passwd"), ErrBadName},
			"traversal key": {keyBody("rooms/r1/../../x.png"), ErrBadKey},
			"key of nobody": {keyBody("rooms/r1/aa/nothing.png"), ErrUnknownUpload},
			"unknown field": {[]byte(`{"type":"image","image":{"data":"AAAA","path":"/etc"}}`), ErrBadJSON},
			"truncated png": {base64Body(encodePNG(t, 2, 2)[:20], ""), ErrBadImage},
			"data and key":  {[]byte(`{"type":"image","image":{"data":"AAAA","key":"rooms/r1/a.png"}}`), ErrBadJSON},
		}
		for name, c := range cases {
			_, err := f.PrepareSend(t.Context(), "r1", "alice", "", c.body)
			if !errors.Is(err, c.want) || !IsInvalid(err) {
				t.Errorf("%s: %v; want %v (and IsInvalid)", name, err, c.want)
			}
		}
		_, err := f.Upload(t.Context(), "r1", "alice", "", strings.NewReader(string(pdf)), -1)
		if !errors.Is(err, ErrNotImage) {
			t.Errorf("upload of a PDF: %v, want ErrNotImage", err)
		}
		_, err = f.Upload(t.Context(), "r1", "alice", "", strings.NewReader(strings.Repeat("x", 70<<10)), -1)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("upload over the limit: %v, want ErrTooLarge", err)
		}
		if n := f.store.count(t); n != 0 {
			t.Fatalf("%d blobs stored by refused requests", n)
		}
		var rows int
		if err := f.db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM blobs").Scan(&rows); err != nil || rows != 0 {
			t.Fatalf("%d blob rows (%v) after refused requests", rows, err)
		}
	})
}

func TestMemoryBudgetRefusesWhenSpent(t *testing.T) {
	st, _ := blobtest.Disk(t)
	s, err := New(st, queriestest.NewDB(t), Config{Limits: DefaultLimits(), URLTTL: time.Hour,
		Memory: DefaultLimits().MaxBytes, MemoryWait: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	held := make(chan error, 1)
	go func() { // an upload of unknown length holds the whole budget while its body trickles in
		_, err := s.Upload(context.Background(), "r1", "alice", "", pr, -1)
		held <- err
	}()
	if _, err := pw.Write(encodePNG(t, 2, 2)[:10]); err != nil { // it is reading: it holds the budget
		t.Fatal(err)
	}
	_, err = s.PrepareSend(t.Context(), "r1", "bob", "", base64Body(encodePNG(t, 2, 2), ""))
	if !errors.Is(err, ErrBusy) || IsInvalid(err) {
		t.Fatalf("send while the budget is spent: %v, want ErrBusy", err)
	}
	pw.Close()
	if err := <-held; !errors.Is(err, ErrBadImage) {
		t.Fatalf("truncated upload: %v, want ErrBadImage", err)
	}
	if _, err := s.PrepareSend(t.Context(), "r1", "bob", "", base64Body(encodePNG(t, 2, 2), "")); err != nil {
		t.Fatalf("send once the budget is back: %v", err)
	}
}

func TestExpireBlobsByRoom(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, nil)
		var r1, r2 []Image
		for i := range 3 {
			r1 = append(r1, decodeImage(t, mustSend(t, f, "r1", encodePNG(t, 2+i, 2))))
			r2 = append(r2, decodeImage(t, mustSend(t, f, "r2", encodePNG(t, 2+i, 3))))
		}
		if n, err := f.ExpireBlobs(t.Context(), "r1", time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
			t.Fatalf("expire before the images existed: %d, %v", n, err)
		}
		urls := make([]string, len(r1))
		for i, img := range r1 {
			urls[i] = decodeImage(t, f.Deliverable(t.Context(), mustJSON(t, img), false)).URL
		}
		n, err := f.ExpireBlobs(t.Context(), "r1", time.Now().Add(time.Minute), 2)
		if err != nil || n != 2 {
			t.Fatalf("expire r1, limit 2: %d, %v", n, err)
		}
		if n, err = f.ExpireBlobs(t.Context(), "r1", time.Now().Add(time.Minute), 2); err != nil || n != 1 {
			t.Fatalf("expire the rest of r1: %d, %v", n, err)
		}
		if got := f.store.count(t); got != 3 {
			t.Fatalf("%d blobs left, want r2's 3", got)
		}
		for i, img := range r1 {
			row, err := rcpdb.New(f.db).GetBlob(t.Context(), img.Key)
			if err != nil || !row.DeletedAt.Valid {
				t.Fatalf("r1 blob %s: deleted_at %v, %v", img.Key, row.DeletedAt, err)
			}
			if code, _ := fetch(t, urls[i]); code == http.StatusOK {
				t.Fatalf("expired blob %s still served", img.Key)
			}
		}
		for _, img := range r2 {
			rc, _, err := f.store.Get(t.Context(), img.Key)
			if err != nil {
				t.Fatalf("r2 blob %s after r1's retention: %v", img.Key, err)
			}
			rc.Close()
		}
	})
}

func mustSend(t *testing.T, f fixture, room string, data []byte) []byte {
	t.Helper()
	b, err := f.PrepareSend(t.Context(), room, "alice", "", base64Body(data, ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustJSON(t *testing.T, img Image) []byte {
	b, err := encodeBody(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDatabaseDownStoresNothing: when the blobs row cannot be written (the
// database is gone), the SEND fails as the server's fault, not the
// client's, and the bytes already put are deleted again.
func TestDatabaseDownStoresNothing(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, nil)
		f.db.Close() // as if MySQL went away between the checks and the row
		_, err := f.PrepareSend(t.Context(), "r1", "alice", "", base64Body(encodePNG(t, 3, 3), ""))
		if err == nil || IsInvalid(err) {
			t.Fatalf("send with the database down: %v; want a server error", err)
		}
		if n := f.store.count(t); n != 0 {
			t.Fatalf("%d blobs left behind by a send that failed", n)
		}
	})
}

// TestExpireUploads: uploads no SEND claimed are deleted once older than
// the cutoff; claimed uploads and SENT images stay, and a SEND of an
// expired upload's key is refused.
func TestExpireUploads(t *testing.T) {
	each(t, func(t *testing.T, newStore func(*testing.T) storeUnderTest) {
		f := newFixture(t, newStore, nil)
		unused := []Image{upload(t, f, "r1", "alice", encodePNG(t, 3, 3)), upload(t, f, "r2", "bob", encodePNG(t, 4, 4))}
		used := upload(t, f, "r1", "alice", encodePNG(t, 5, 5))
		if _, err := f.PrepareSend(t.Context(), "r1", "alice", "c-1", keyBody(used.Key)); err != nil {
			t.Fatal(err)
		}
		sent := decodeImage(t, mustSend(t, f, "r1", encodePNG(t, 6, 6)))
		if n, err := f.ExpireUploads(t.Context(), time.Now().Add(-time.Hour), 10); err != nil || n != 0 {
			t.Fatalf("expire before the uploads existed: %d, %v", n, err)
		}
		if n, err := f.ExpireUploads(t.Context(), time.Now().Add(time.Minute), 1); err != nil || n != 1 {
			t.Fatalf("expire, limit 1: %d, %v", n, err)
		}
		if n, err := f.ExpireUploads(t.Context(), time.Now().Add(time.Minute), 10); err != nil || n != 1 {
			t.Fatalf("expire the rest: %d, %v", n, err)
		}
		if got := f.store.count(t); got != 2 {
			t.Fatalf("%d blobs left, want the claimed upload and the sent image", got)
		}
		for _, img := range unused {
			row, err := rcpdb.New(f.db).GetBlob(t.Context(), img.Key)
			if err != nil || !row.DeletedAt.Valid {
				t.Fatalf("unused upload %s: deleted_at %v, %v", img.Key, row.DeletedAt, err)
			}
		}
		for _, key := range []string{used.Key, sent.Key} {
			rc, _, err := f.store.Get(t.Context(), key)
			if err != nil {
				t.Fatalf("blob %s after the expiry: %v", key, err)
			}
			rc.Close()
		}
		if _, err := f.PrepareSend(t.Context(), "r1", "alice", "c-2", keyBody(unused[0].Key)); !IsInvalid(err) {
			t.Fatalf("SEND of an expired upload: %v, want a refusal", err)
		}
		// A claim that lands between the listing and the retirement wins.
		at := sql.NullTime{Time: time.Now(), Valid: true}
		if n, err := rcpdb.New(f.db).MarkUnclaimedBlobDeleted(t.Context(),
			rcpdb.MarkUnclaimedBlobDeletedParams{DeletedAt: at, BlobKey: used.Key}); err != nil || n != 0 {
			t.Fatalf("retiring a claimed upload: %d rows, %v; want 0", n, err)
		}
	})
}
