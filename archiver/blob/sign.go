package blob

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// URLPrefix is the path under which DiskStore.Handler serves blobs.
const URLPrefix = "/v1/blobs/"

// URL implements Store: baseURL + "/v1/blobs/<key>?exp=<unix>&sig=<hex>",
// sig = HMAC-SHA256(secret, "rcp-blob-v1\x00" + key + "\x00" + exp) in hex.
// It does not check that the blob exists (like an S3 presigned URL).
func (s *DiskStore) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 {
		return "", fmt.Errorf("%w: %v", ErrBadTTL, ttl)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("blob: url %q: %w", key, err)
	}
	exp := strconv.FormatInt(s.now().Add(ttl+time.Second-1).Unix(), 10)
	return s.baseURL + URLPrefix + key + "?exp=" + exp + "&sig=" + s.sign(key, exp), nil
}

func (s *DiskStore) sign(key, exp string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("rcp-blob-v1\x00" + key + "\x00" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signed URL's key, exp and sig: ErrBadKey, ErrBadSignature
// (checked before expiry, so an altered exp is a bad signature) or ErrExpired.
func (s *DiskStore) Verify(key, exp, sig string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if len(exp) == 0 || len(exp) > 19 {
		return ErrBadSignature
	}
	// The lower-case hex as issued, compared as text: any altered byte of
	// the URL, even the case of a hex digit, is refused.
	if !hmac.Equal([]byte(sig), []byte(s.sign(key, exp))) {
		return ErrBadSignature
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if !s.now().Before(time.Unix(e, 0)) {
		return ErrExpired
	}
	return nil
}

// Handler serves GET and HEAD of URL's URLs (mount it at "/v1/blobs/" or at
// the root; it reads the whole path). Status codes:
//   - 403 Forbidden: a bad key, a missing or wrong signature (any altered
//     byte of key, exp or sig);
//   - 410 Gone: a correctly signed URL past its expiry;
//   - 404 Not Found: a valid URL whose blob does not exist (or was deleted);
//   - 405 Method Not Allowed: anything but GET and HEAD.
//
// Range requests are served (http.ServeContent). Responses carry the stored
// content type, nosniff and a sandboxing Content-Security-Policy.
func (s *DiskStore) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *DiskStore) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, URLPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	exp := q.Get("exp")
	switch err := s.Verify(key, exp, q.Get("sig")); {
	case errors.Is(err, ErrExpired):
		http.Error(w, "url expired", http.StatusGone)
		return
	case err != nil:
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	f, sec, info, err := s.open(key)
	if errors.Is(err, ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	defer func() { _ = f.Close() }()
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	e, _ := strconv.ParseInt(exp, 10, 64)
	maxAge := max(int64(time.Until(time.Unix(e, 0))/time.Second), 0)
	h.Set("Cache-Control", "private, max-age="+strconv.FormatInt(maxAge, 10))
	http.ServeContent(w, r, "", info.ModTime, sec)
}
