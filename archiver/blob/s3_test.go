package blob_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/archiver/blob/blobtest"
)

// newS3 returns a store on a fresh bucket of the test S3 server, removed
// again after the test.
func newS3(t *testing.T) *blob.S3Store { return blobtest.S3(t) }

func listKeys(ctx context.Context, t *testing.T, s *blob.S3Store) []string {
	return blobtest.Keys(ctx, t, s)
}

func TestS3StoreConformance(t *testing.T) {
	runConformance(t, harness{
		newStore: func(t *testing.T) blob.Store { return newS3(t) },
		count: func(t *testing.T, s blob.Store) int {
			return len(listKeys(ctxT(t), t, s.(*blob.S3Store)))
		},
	})
}

func TestS3StoreURLTTLLimit(t *testing.T) {
	s := newS3(t)
	if _, err := s.URL(ctxT(t), "k", blob.MaxURLTTL+time.Second); err == nil {
		t.Fatal("URL accepted a ttl above the SigV4 limit")
	}
}

// versitygw checks presigned URLs itself: an expired one is refused with
// AccessDenied "Request has expired.", an altered one with
// SignatureDoesNotMatch (both 403). This pins down why the conformance
// suite's 403s happen.
func TestS3StoreURLRefusalReasons(t *testing.T) {
	t.Parallel()
	s := newS3(t)
	put(t, s, "r.png", []byte("reasons"), "image/png")
	fresh, err := s.URL(ctxT(t), "r.png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.URL(ctxT(t), "r.png", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := httpGet(t, flip(fresh, len(fresh)-3))
	if code != http.StatusForbidden || !strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("tampered URL: %d %.300s, want 403 SignatureDoesNotMatch", code, body)
	}
	time.Sleep(2100 * time.Millisecond)
	code, body, _ = httpGet(t, short)
	if code != http.StatusForbidden || !strings.Contains(string(body), "Request has expired") {
		t.Errorf("expired URL: %d %.300s, want 403 AccessDenied \"Request has expired\"", code, body)
	}
}

// TestS3StorePingMissingBucket: readiness fails when the bucket is gone.
func TestS3StorePingMissingBucket(t *testing.T) {
	s, err := blob.NewS3Store(ctxT(t), blobtest.NewBucketConfig(t)) // never created
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctxT(t)); err == nil {
		t.Fatal("Ping succeeded on a bucket that does not exist")
	}
}
