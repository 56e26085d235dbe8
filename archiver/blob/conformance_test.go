package blob_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver/blob"
)

// harness is one Store under test: a fresh, empty store per call of newStore,
// and a way to count what it holds (outside the Store interface).
type harness struct {
	newStore func(t *testing.T) blob.Store
	count    func(t *testing.T, s blob.Store) int
}

// runConformance is the suite every Store must pass.
func runConformance(t *testing.T, h harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"FailedPutKeepsOld", testFailedPutKeepsOld},
		{"Delete", testDelete},
		{"BadKeys", testBadKeys},
		{"URL", testURL},
		{"URLTampered", testURLTampered},
		{"URLExpired", testURLExpired},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

func testPing(t *testing.T, h harness) {
	if err := h.newStore(t).Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping of a working store: %v", err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(ctxT(t), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s blob.Store, key string, want []byte, wantCT string) {
	t.Helper()
	rc, info, err := s.Get(ctxT(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer func() { _ = rc.Close() }()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): %d bytes (sha256 %x), want %d bytes (sha256 %x)",
			key, len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
	if info.Size != int64(len(want)) {
		t.Errorf("Get(%q): Info.Size = %d, want %d", key, info.Size, len(want))
	}
	if wantCT != "" && info.ContentType != wantCT {
		t.Errorf("Get(%q): Info.ContentType = %q, want %q", key, info.ContentType, wantCT)
	}
}

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	rc, _, err := s.Get(ctxT(t), key)
	if err == nil {
		_ = rc.Close()
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get(%q) = %v, want ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, h harness) {
	s := h.newStore(t)
	cases := map[string][]byte{
		"rooms/42/img/a.png":   randomBytes(t, 200_000),
		"empty":                {},
		"x":                    []byte("hello"),
		"A-b_c.D/e.f/g-h.jpeg": randomBytes(t, 4096),
	}
	for key, data := range cases {
		put(t, s, key, data, "image/png")
	}
	// A reader that cannot seek (a network body) takes the streaming path.
	stream := randomBytes(t, 300_000)
	if err := s.Put(ctxT(t), "stream/s.bin", io.MultiReader(bytes.NewReader(stream)), int64(len(stream)), "image/webp"); err != nil {
		t.Fatalf("Put(stream): %v", err)
	}
	mustGet(t, s, "stream/s.bin", stream, "image/webp")
	for key, data := range cases {
		mustGet(t, s, key, data, "image/png")
	}
	if n := h.count(t, s); n != len(cases)+1 {
		t.Fatalf("store holds %d blobs, want %d", n, len(cases)+1)
	}
}

func testOverwrite(t *testing.T, h harness) {
	s := h.newStore(t)
	put(t, s, "k/v", randomBytes(t, 10_000), "image/png")
	second := randomBytes(t, 777)
	put(t, s, "k/v", second, "image/jpeg")
	mustGet(t, s, "k/v", second, "image/jpeg")
	if n := h.count(t, s); n != 1 {
		t.Fatalf("store holds %d blobs, want 1", n)
	}
}

// failingReader returns data, then an error instead of EOF.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, errors.New("reader broke")
	}
	return n, err
}

func testFailedPutKeepsOld(t *testing.T, h harness) {
	s := h.newStore(t)
	old := randomBytes(t, 3000)
	put(t, s, "keep", old, "image/gif")
	short := randomBytes(t, 1000)
	if err := s.Put(ctxT(t), "keep", bytes.NewReader(short), 5000, "image/png"); err == nil {
		t.Fatal("Put with a body shorter than size succeeded")
	}
	if err := s.Put(ctxT(t), "keep", &failingReader{bytes.NewReader(short)}, 5000, "image/png"); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	if err := s.Put(ctxT(t), "keep", io.MultiReader(bytes.NewReader(short)), 5000, "image/png"); err == nil {
		t.Fatal("Put with a (non-seeking) body shorter than size succeeded")
	}
	if err := s.Put(ctxT(t), "keep", bytes.NewReader(old[:100]), 99, "image/png"); err == nil {
		t.Fatal("Put with a body longer than size succeeded")
	}
	if err := s.Put(ctxT(t), "keep", io.MultiReader(bytes.NewReader(old[:100])), 99, "image/png"); err == nil {
		t.Fatal("Put with a (non-seeking) body longer than size succeeded")
	}
	if err := s.Put(ctxT(t), "fresh", bytes.NewReader(short), 5000, "image/png"); err == nil {
		t.Fatal("Put (new key) with a body shorter than size succeeded")
	}
	mustGet(t, s, "keep", old, "image/gif")
	wantNotFound(t, s, "fresh")
	if n := h.count(t, s); n != 1 {
		t.Fatalf("store holds %d blobs, want 1", n)
	}
}

func testDelete(t *testing.T, h harness) {
	s := h.newStore(t)
	put(t, s, "d/1", []byte("one"), "text/plain")
	put(t, s, "d/2", []byte("two"), "text/plain")
	if err := s.Delete(ctxT(t), "d/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "d/1")
	mustGet(t, s, "d/2", []byte("two"), "text/plain")
	for _, k := range []string{"d/1", "never/was", "d"} {
		if err := s.Delete(ctxT(t), k); err != nil {
			t.Fatalf("Delete(%q) of a missing key: %v, want nil", k, err)
		}
	}
	wantNotFound(t, s, "never/was")
	if n := h.count(t, s); n != 1 {
		t.Fatalf("store holds %d blobs, want 1", n)
	}
}

var badKeys = []string{
	"", "../x", "a/../../x", "..", "a/..", "/abs", "/etc/passwd", "a//b", "a/", "./a", "a/./b",
	"sp ace", "q?x", "pct%2e", "back\\slash", "uni\u00e9", "nul\x00", "a..b",
	strings.Repeat("k", blob.MaxKeyLen+1),
	strings.Repeat("k/", blob.MaxKeyLen/2) + "k", // 513 bytes
	strings.Repeat("s", blob.MaxSegmentLen+1),
}

func testBadKeys(t *testing.T, h harness) {
	s := h.newStore(t)
	data := []byte("must not be stored")
	for _, k := range badKeys {
		if err := s.Put(ctxT(t), k, bytes.NewReader(data), int64(len(data)), "text/plain"); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", k, err)
		}
		if _, _, err := s.Get(ctxT(t), k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Get(%q) = %v, want ErrBadKey", k, err)
		}
		if err := s.Delete(ctxT(t), k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Delete(%q) = %v, want ErrBadKey", k, err)
		}
		if _, err := s.URL(ctxT(t), k, time.Minute); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("URL(%q) = %v, want ErrBadKey", k, err)
		}
	}
	if n := h.count(t, s); n != 0 {
		t.Fatalf("store holds %d blobs after bad-key Puts, want 0", n)
	}
	// The longest valid key works.
	seg := strings.Repeat("k", blob.MaxSegmentLen)
	long := seg + "/" + strings.Repeat("m", 200) + "/" + strings.Repeat("n", blob.MaxKeyLen-len(seg)-202)
	if len(long) != blob.MaxKeyLen {
		t.Fatalf("test key has %d bytes", len(long))
	}
	put(t, s, long, data, "text/plain")
	mustGet(t, s, long, data, "text/plain")
}

// httpGet fetches url with a bounded wait: status and body.
func httpGet(t *testing.T, url string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp.StatusCode, body, resp.Header
}

func testURL(t *testing.T, h harness) {
	s := h.newStore(t)
	data := randomBytes(t, 123_456)
	put(t, s, "u/pic.png", data, "image/png")
	u, err := s.URL(ctxT(t), "u/pic.png", time.Minute)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	code, body, hdr := httpGet(t, u)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200 (body %.200q)", u, code, body)
	}
	if sha256.Sum256(body) != sha256.Sum256(data) {
		t.Fatalf("GET %s: %d bytes, sha256 differs from the %d bytes put", u, len(body), len(data))
	}
	if ct := hdr.Get("Content-Type"); ct != "image/png" {
		t.Errorf("GET %s: Content-Type %q, want image/png", u, ct)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if _, err := s.URL(ctxT(t), "u/pic.png", ttl); !errors.Is(err, blob.ErrBadTTL) {
			t.Errorf("URL(ttl %v) = %v, want ErrBadTTL", ttl, err)
		}
	}
}

// flip changes the byte at i of s to another character of the same class.
func flip(s string, i int) string {
	c := s[i]
	r := byte('a')
	switch {
	case c == 'a':
		r = 'b'
	case c >= '0' && c <= '9':
		r = '0' + (c-'0'+1)%10
	case c >= 'A' && c <= 'Z':
		r = 'A' + (c-'A'+1)%26
	}
	return s[:i] + string(r) + s[i+1:]
}

func testURLTampered(t *testing.T, h harness) {
	s := h.newStore(t)
	put(t, s, "t/a1.png", []byte("secret a1"), "image/png")
	put(t, s, "t/a2.png", []byte("secret a2"), "image/png")
	u, err := s.URL(ctxT(t), "t/a1.png", time.Minute)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	if code, _, _ := httpGet(t, u); code != http.StatusOK {
		t.Fatalf("untampered GET: status %d, want 200", code)
	}
	sigAt := -1
	for _, p := range []string{"&sig=", "X-Amz-Signature="} { // disk, S3
		if i := strings.Index(u, p); i >= 0 {
			sigAt = i + len(p)
		}
	}
	if sigAt < 0 || sigAt+5 >= len(u) {
		t.Fatalf("no signature in %s", u)
	}
	keyAt := strings.Index(u, "t/a1.png") + len("t/a")
	variants := map[string]string{
		"signature": flip(u, sigAt+5),
		"key":       u[:keyAt] + "2" + u[keyAt+1:], // t/a1.png -> t/a2.png, which exists
	}
	for what, v := range variants {
		if v == u {
			t.Fatalf("tampering %s left the URL unchanged", what)
		}
		code, body, _ := httpGet(t, v)
		if code != http.StatusForbidden {
			t.Errorf("GET with tampered %s (%s): status %d, want 403 (body %.200q)", what, v, code, body)
		}
	}
}

func testURLExpired(t *testing.T, h harness) {
	s := h.newStore(t)
	put(t, s, "e/x.png", []byte("short-lived"), "image/png")
	u, err := s.URL(ctxT(t), "e/x.png", time.Second)
	if err != nil {
		t.Fatalf("URL: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	code, body, _ := httpGet(t, u)
	if code != http.StatusForbidden && code != http.StatusGone {
		t.Fatalf("GET of an expired URL: status %d, want 403 or 410 (body %.200q)", code, body)
	}
	if bytes.Contains(body, []byte("short-lived")) {
		t.Fatal("expired URL served the blob")
	}
	t.Logf("expired URL refused with %d", code)
}
