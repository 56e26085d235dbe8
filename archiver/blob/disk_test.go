package blob_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/archiver/blob/blobtest"
)

// diskUnderTest remembers the temp dir around the store, so count can see
// anything written outside the store's directory too.
type diskUnderTest struct {
	*blob.DiskStore
	base, dir string
}

// newDisk is a disk store in a temp dir (blobtest.Disk: an httptest server
// serves its URLs).
func newDisk(t *testing.T) *diskUnderTest {
	t.Helper()
	s, dir := blobtest.Disk(t)
	return &diskUnderTest{DiskStore: s, base: filepath.Dir(dir), dir: dir}
}

// countFiles counts every non-directory under the test's temp dir: stored
// blobs, leftover temp files, anything a bad key wrote outside the store.
func countFiles(t *testing.T, s blob.Store) int {
	t.Helper()
	d := s.(*diskUnderTest)
	n := 0
	err := filepath.WalkDir(d.base, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.IsDir() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDiskStoreConformance(t *testing.T) {
	runConformance(t, harness{
		newStore: func(t *testing.T) blob.Store { return newDisk(t) },
		count:    countFiles,
	})
}

func TestDiskStoreHandlerStatuses(t *testing.T) {
	t.Parallel()
	s := newDisk(t)
	put(t, s, "h/a.png", []byte("0123456789"), "image/png")
	u, err := s.URL(ctxT(t), "h/a.png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expAt := strings.Index(u, "exp=") + len("exp=")
	sigAt := strings.Index(u, "&sig=") + len("&sig=")
	missing, err := s.URL(ctxT(t), "h/none.png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		url  string
		want int
	}{
		"ok":            {u, http.StatusOK},
		"exp altered":   {u[:expAt] + flip(u[expAt:], 9), http.StatusForbidden},
		"sig missing":   {u[:strings.Index(u, "&sig=")], http.StatusForbidden},
		"sig not hex":   {u + "zz", http.StatusForbidden},
		"sig upper":     {u[:sigAt] + strings.ToUpper(u[sigAt:]), http.StatusForbidden},
		"blob missing":  {missing, http.StatusNotFound},
		"traversal":     {strings.Replace(u, "h/a.png", "h/../h/a.png", 1), http.StatusForbidden},
		"outside /v1/b": {strings.Replace(u, "/v1/blobs/", "/v1/other/", 1), http.StatusNotFound},
	} {
		if code, body, _ := httpGet(t, tc.url); code != tc.want {
			t.Errorf("%s: GET %s: status %d, want %d (body %.100q)", name, tc.url, code, tc.want, body)
		}
	}
	resp, err := http.Post(u, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", resp.StatusCode)
	}
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodGet, u, nil)
	req.Header.Set("Range", "bytes=2-4")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.ContentLength != 3 {
		t.Errorf("Range GET: status %d, length %d, want 206 and 3", resp.StatusCode, resp.ContentLength)
	}
}

// The disk store answers an expired (correctly signed) URL with 410 Gone.
func TestDiskStoreExpiredIs410(t *testing.T) {
	t.Parallel()
	s := newDisk(t)
	put(t, s, "e.png", []byte("x"), "image/png")
	u, err := s.URL(ctxT(t), "e.png", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if code, _, _ := httpGet(t, u); code != http.StatusGone {
		t.Fatalf("expired URL: status %d, want 410", code)
	}
	q := u[strings.Index(u, "?")+1:]
	exp := strings.TrimPrefix(strings.Split(q, "&")[0], "exp=")
	sig := strings.TrimPrefix(strings.Split(q, "&")[1], "sig=")
	if err := s.Verify("e.png", exp, sig); !errors.Is(err, blob.ErrExpired) {
		t.Errorf("Verify(expired) = %v, want ErrExpired", err)
	}
	if err := s.Verify("e.png", exp, flip(sig, 0)); !errors.Is(err, blob.ErrBadSignature) {
		t.Errorf("Verify(tampered, expired) = %v, want ErrBadSignature", err)
	}
}

// A symlink planted inside the store cannot lead Get outside it.
func TestDiskStoreConfined(t *testing.T) {
	t.Parallel()
	s := newDisk(t)
	outside := filepath.Join(s.base, "outside.txt")
	if err := os.WriteFile(outside, []byte("rcpblob1 text/plain\nsecret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(s.dir, "objects", "link")); err != nil {
		t.Fatal(err)
	}
	if rc, _, err := s.Get(context.Background(), "link"); err == nil {
		_ = rc.Close()
		t.Fatal("Get through a symlink out of the store succeeded")
	}
}

func TestNewDiskStoreShortSecret(t *testing.T) {
	if _, err := blob.NewDiskStore(t.TempDir(), "http://x", []byte("short")); err == nil {
		t.Fatal("NewDiskStore accepted a 5-byte secret")
	}
}

// TestDiskStorePingMissingDir: readiness fails when the directory is gone.
func TestDiskStorePingMissingDir(t *testing.T) {
	s := newDisk(t)
	if err := os.RemoveAll(filepath.Join(s.dir, "objects")); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctxT(t)); err == nil {
		t.Fatal("Ping succeeded without the objects directory")
	}
}
