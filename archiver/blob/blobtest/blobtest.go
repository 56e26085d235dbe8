// Package blobtest gives tests real blob stores: an S3Store on a fresh
// bucket of the S3 server that deploy/test-services.sh starts (versitygw;
// RCP_TEST_S3_* variables, no fallback and no fake), and a DiskStore in a
// temp dir behind an httptest server that serves its URLs. Both are removed
// after the test.
package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rcp/rcp/archiver/blob"
)

// Secret signs the DiskStore URLs of tests.
var Secret = []byte("blobtest-secret-0123456789")

// S3Config is the test S3 server's configuration, without a bucket; the
// test fails when the variables are missing.
func S3Config(t testing.TB) blob.S3Config {
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

// NewBucketConfig is S3Config with a fresh bucket name (not created).
func NewBucketConfig(t testing.TB) blob.S3Config {
	cfg := S3Config(t)
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	cfg.Bucket = "rcp-test-" + hex.EncodeToString(rnd[:])
	return cfg
}

// S3 returns a store on a fresh bucket, emptied and removed after the test.
func S3(t testing.TB) *blob.S3Store {
	t.Helper()
	cfg := NewBucketConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := blob.NewS3Store(ctx, cfg)
	if err != nil {
		t.Fatalf("NewS3Store: %v", err)
	}
	for range 2 { // idempotent
		if err := s.EnsureBucket(ctx); err != nil {
			t.Fatalf("EnsureBucket(%s) on %s: %v", cfg.Bucket, cfg.Endpoint, err)
		}
	}
	t.Cleanup(func() { RemoveBucket(t, s) })
	return s
}

// RemoveBucket deletes every object of the store's bucket, then the bucket.
func RemoveBucket(t testing.TB, s *blob.S3Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range Keys(ctx, t, s) {
		if _, err := s.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String(k)}); err != nil {
			t.Errorf("cleanup: delete %s: %v", k, err)
		}
	}
	if _, err := s.Client().DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(s.Bucket())}); err != nil {
		t.Errorf("cleanup: delete bucket %s: %v", s.Bucket(), err)
	}
}

// Keys lists every object key of the store's bucket.
func Keys(ctx context.Context, t testing.TB, s *blob.S3Store) []string {
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

// Disk returns a DiskStore in a temp dir whose URLs an httptest server
// serves, and the store's directory.
func Disk(t testing.TB) (*blob.DiskStore, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	srv := httptest.NewUnstartedServer(nil)
	s, err := blob.NewDiskStore(dir, "http://"+srv.Listener.Addr().String(), Secret)
	if err != nil {
		t.Fatalf("NewDiskStore: %v", err)
	}
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		_ = s.Close()
	})
	return s, dir
}
