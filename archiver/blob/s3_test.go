package blob_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rcp/rcp/archiver/blob"
)

// s3Config is the S3 server that deploy/test-services.sh starts (versitygw).
// There is no fallback: without it the test fails.
func s3Config(t *testing.T) blob.S3Config {
	t.Helper()
	cfg := blob.S3Config{
		Endpoint:  os.Getenv("RCP_TEST_S3_ENDPOINT"),
		Region:    os.Getenv("RCP_TEST_S3_REGION"),
		AccessKey: os.Getenv("RCP_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("RCP_TEST_S3_SECRET_KEY"),
		PathStyle: true,
	}
	if cfg.Endpoint == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		t.Fatal("RCP_TEST_S3_ENDPOINT, RCP_TEST_S3_ACCESS_KEY and RCP_TEST_S3_SECRET_KEY must name " +
			"an S3 server (run `make test`, or `deploy/test-services.sh start DIR` and source DIR/env)")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return cfg
}

// newS3 returns a store on a fresh bucket, removed again after the test.
func newS3(t *testing.T) *blob.S3Store {
	t.Helper()
	cfg := s3Config(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	cfg.Bucket = "rcp-blob-test-" + hex.EncodeToString(rnd[:])
	s, err := blob.NewS3Store(ctxT(t), cfg)
	if err != nil {
		t.Fatalf("NewS3Store: %v", err)
	}
	for range 2 { // idempotent
		if err := s.EnsureBucket(ctxT(t)); err != nil {
			t.Fatalf("EnsureBucket(%s) on %s: %v", cfg.Bucket, cfg.Endpoint, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, k := range listKeys(ctx, t, s) {
			if _, err := s.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(k)}); err != nil {
				t.Errorf("cleanup: delete %s: %v", k, err)
			}
		}
		if _, err := s.Client().DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.Bucket())}); err != nil {
			t.Errorf("cleanup: delete bucket %s: %v", s.Bucket(), err)
		}
	})
	return s
}

func listKeys(ctx context.Context, t *testing.T, s *blob.S3Store) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket())})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list %s: %v", s.Bucket(), err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
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
