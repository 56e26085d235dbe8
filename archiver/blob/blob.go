// Package blob is RCP's blob store: the bytes of images and other media that
// messages refer to by key. It owns:
//
//   - the Store interface (Put, Get, Delete, URL) and its sentinel errors;
//   - key validation (ValidKey): the one place that decides which keys exist;
//   - S3Store: any S3-compatible server through aws-sdk-go-v2 (endpoint
//     override, path-style addressing, presigned GET URLs, EnsureBucket);
//   - DiskStore: a local directory, the embedded default, with atomic writes
//     and signed expiring URLs served by DiskStore.Handler.
//
// It does not know about messages, rooms or retention policies: callers
// decide keys and when to delete. docs/blobs.md describes the design.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors; implementations wrap them with %w.
var (
	// ErrNotFound: no blob under the key.
	ErrNotFound = errors.New("blob: not found")
	// ErrBadKey: the key fails ValidKey; nothing was read or written.
	ErrBadKey = errors.New("blob: bad key")
	// ErrExpired: a signed URL is past its expiry.
	ErrExpired = errors.New("blob: url expired")
	// ErrBadSignature: a signed URL's signature does not match its key and expiry.
	ErrBadSignature = errors.New("blob: bad signature")
	// ErrBadTTL: a URL was asked for with a ttl the store cannot sign.
	ErrBadTTL = errors.New("blob: bad url ttl")
)

// Info describes a stored blob.
type Info struct {
	Size        int64
	ContentType string
	ModTime     time.Time
}

// Store keeps blobs by key. Implementations are safe for concurrent use.
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// earlier blob atomically: readers see the old or the new bytes, never a
	// mix. A reader that ends early or errors leaves the old blob in place.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Get opens the blob; the caller closes the reader.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Delete removes the blob; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// URL returns a URL that serves the blob to a plain HTTP GET until ttl
	// has passed, and is refused (403) when any part of it is altered.
	URL(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Ping checks that the store answers (readiness): the bucket exists and
	// the credentials are accepted, or the directory is there.
	Ping(ctx context.Context) error
}

// DefaultContentType is stored when Put is given an empty content type.
const DefaultContentType = "application/octet-stream"

// copyExact copies exactly size bytes from r to w and fails when r holds
// fewer or more.
func copyExact(w io.Writer, r io.Reader, size int64) error {
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err != nil {
		return err
	}
	if n != size {
		return errors.New("blob: body shorter than size")
	}
	var one [1]byte
	if m, _ := io.ReadFull(r, one[:]); m > 0 {
		return errors.New("blob: body longer than size")
	}
	return nil
}
