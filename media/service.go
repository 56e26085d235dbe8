package media

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// Errors of the service that callers branch on (the parsing and checking
// errors of body.go and image.go come through wrapped as they are).
var (
	// ErrUnknownUpload: the key names no upload of this user in this room
	// (or it was deleted). Keys of other users get the same answer.
	ErrUnknownUpload = errors.New("media: unknown upload")
	// ErrUploadUsed: a SEND already referenced the upload.
	ErrUploadUsed = errors.New("media: upload already used by another message")
	// ErrClientIDReused: a retried SEND carried other image bytes under the
	// same x-client-id.
	ErrClientIDReused = errors.New("media: x-client-id already used for another image")
	// ErrBusy: the images in flight hold the whole memory budget and this one
	// waited too long for its share.
	ErrBusy = errors.New("media: too many images in flight")
)

// invalid are the errors that blame the request, not the server.
var invalid = []error{ErrBadJSON, ErrBadBase64, ErrBadName, ErrBadKey, ErrEmpty, ErrTooLarge,
	ErrNotImage, ErrBadImage, ErrDimensions, ErrUnknownUpload, ErrUploadUsed, ErrClientIDReused}

// IsInvalid reports whether err refuses the request itself (bad body, bad
// image, foreign or used upload): retrying it cannot succeed. Other errors
// are the server's (store or database down, ErrBusy).
func IsInvalid(err error) bool {
	for _, e := range invalid {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Config tunes the image service.
type Config struct {
	Limits Limits
	// InlineMax: images of at most this many bytes also travel inline
	// (base64 `data`) in MESSAGE bodies; 0 never.
	InlineMax int64
	// URLTTL is the lifetime of the URLs put in delivered bodies.
	URLTTL time.Duration
	// Memory bounds the image bytes being decoded, checked and stored at
	// once over all connections and uploads; a request waits up to
	// MemoryWait for its share, then fails with ErrBusy.
	Memory     int64
	MemoryWait time.Duration
	// CacheBytes bounds the inline image bytes kept for delivery.
	CacheBytes int64
}

// DefaultConfig is the configuration docs/blobs.md documents.
func DefaultConfig() Config {
	return Config{Limits: DefaultLimits(), InlineMax: 64 << 10, URLTTL: 24 * time.Hour,
		Memory: 64 << 20, MemoryWait: 10 * time.Second, CacheBytes: 16 << 20}
}

// Validate reports a configuration the service cannot run with.
func (c Config) Validate() error {
	switch {
	case c.Limits.MaxBytes < 1:
		return fmt.Errorf("media: image limit %d bytes: want at least 1", c.Limits.MaxBytes)
	case c.Memory < c.Limits.MaxBytes:
		return fmt.Errorf("media: memory budget %d below the image limit %d", c.Memory, c.Limits.MaxBytes)
	case c.InlineMax < 0 || c.CacheBytes < 0:
		return fmt.Errorf("media: negative inline limit or cache size")
	case c.URLTTL <= 0:
		return fmt.Errorf("media: url ttl %v: want positive", c.URLTTL)
	}
	return nil
}

// Service stores the images of messages (blob store + the blobs table) and
// turns stored image entries into delivered bodies. Safe for concurrent use.
type Service struct {
	store blob.Store
	q     *rcpdb.Queries
	cfg   Config
	mem   *semaphore.Weighted
	cache *cache
	log   *slog.Logger
	now   func() time.Time
}

// New returns the service on store and the MySQL database db.
func New(store blob.Store, db *sql.DB, cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, q: rcpdb.New(db), cfg: cfg, mem: semaphore.NewWeighted(cfg.Memory),
		cache: newCache(cfg.CacheBytes), log: log, now: time.Now}, nil
}

// Ping checks that the blob store answers (readiness).
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// Config returns the service's configuration.
func (s *Service) Config() Config { return s.cfg }

// Image is the `image` object of an image message as stored in the entry;
// URL and Data are added at delivery only.
type Image struct {
	Key         string `json:"key"`
	ContentType string `json:"contentType"`
	Name        string `json:"name,omitempty"`
	Size        int64  `json:"size"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SHA256      string `json:"sha256"`
	URL         string `json:"url,omitempty"`
	Data        []byte `json:"data,omitempty"` // base64 in JSON
}

type imageBody struct {
	Type  string `json:"type"`
	Image Image  `json:"image"`
}

func encodeBody(img Image) ([]byte, error) {
	b, err := json.Marshal(imageBody{Type: "image", Image: img})
	if err != nil {
		return nil, fmt.Errorf("media: encode image body: %w", err)
	}
	return b, nil
}

// reserve takes n bytes of the memory budget (at most all of it); the
// caller calls the returned release.
func (s *Service) reserve(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), s.cfg.Memory)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.MemoryWait)
	defer cancel()
	if err := s.mem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("%w: waited %v for %d bytes", ErrBusy, s.cfg.MemoryWait, n)
	}
	return func() { s.mem.Release(n) }, nil
}

// PrepareSend turns the body of an image SEND into the body to store in the
// entry: a base64 image is decoded, checked and stored (before the entry is
// written); a key is claimed as the user's unused upload in this room. A
// retry with the same clientID gets the same body and stores nothing twice.
func (s *Service) PrepareSend(ctx context.Context, room, user, clientID string, body []byte) ([]byte, error) {
	release, err := s.reserve(ctx, int64(len(body))*3/4)
	if err != nil {
		return nil, err
	}
	defer release()
	req, err := ParseImageSend(body, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if req.Key != "" {
		return s.claim(ctx, room, user, clientID, req)
	}
	info, err := Inspect(req.Data, s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	if clientID != "" {
		if img, ok, err := s.retried(ctx, room, user, clientID, info); err != nil {
			return nil, err
		} else if ok {
			return encodeBody(withName(img, req.Name))
		}
	}
	key, err := newKey(room, info.Ext)
	if err != nil {
		return nil, err
	}
	claimed := sql.NullTime{Time: s.now().UTC(), Valid: true}
	img, err := s.put(ctx, room, user, key, req, info, claimed, clientID)
	if errors.Is(err, errClaimTaken) { // a concurrent attempt of this SEND won
		img, ok, rerr := s.retried(ctx, room, user, clientID, info)
		if rerr != nil {
			return nil, rerr
		}
		if ok {
			return encodeBody(withName(img, req.Name))
		}
	}
	if err != nil {
		return nil, err
	}
	return encodeBody(img)
}

// put stores the bytes, then the blobs row (the row names only stored bytes).
func (s *Service) put(ctx context.Context, room, user, key string, req ImageSend, info Info, claimed sql.NullTime, clientID string) (Image, error) {
	if err := s.store.Put(ctx, key, bytes.NewReader(req.Data), info.Size, info.ContentType); err != nil {
		return Image{}, fmt.Errorf("media: store %s: %w", key, err)
	}
	err := s.q.InsertBlob(ctx, rcpdb.InsertBlobParams{BlobKey: key, RoomID: room, OwnerID: user,
		ContentType: info.ContentType, Size: uint64(info.Size), Sha256: info.SHA256[:],
		Width: uint32(info.Width), Height: uint32(info.Height), Name: req.Name,
		CreatedAt: s.now().UTC(), ClaimedAt: claimed, ClaimClient: nullable(clientID)})
	if err != nil {
		if delErr := s.store.Delete(ctx, key); delErr != nil {
			s.log.Warn("unrecorded blob not deleted", "key", key, "err", delErr)
		}
		if isDuplicate(err) {
			return Image{}, errClaimTaken
		}
		return Image{}, fmt.Errorf("media: record blob %s: %w", key, err)
	}
	if info.Size <= s.cfg.InlineMax {
		s.cache.putData(key, req.Data)
	}
	return Image{Key: key, ContentType: info.ContentType, Name: req.Name, Size: info.Size,
		Width: info.Width, Height: info.Height, SHA256: hex.EncodeToString(info.SHA256[:])}, nil
}

// Upload stores an image sent to POST /v1/uploads (r holds at most
// Limits.MaxBytes+1 bytes of interest; size is the declared length or -1)
// and returns it; a later SEND references its key.
func (s *Service) Upload(ctx context.Context, room, user, name string, r io.Reader, size int64) (Image, error) {
	if size > s.cfg.Limits.MaxBytes {
		return Image{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, s.cfg.Limits.MaxBytes)
	}
	if size < 0 {
		size = s.cfg.Limits.MaxBytes
	}
	name, err := checkName(name)
	if err != nil {
		return Image{}, err
	}
	release, err := s.reserve(ctx, size)
	if err != nil {
		return Image{}, err
	}
	defer release()
	data, err := readLimited(r, s.cfg.Limits.MaxBytes, size)
	if err != nil {
		return Image{}, err
	}
	info, err := Inspect(data, s.cfg.Limits)
	if err != nil {
		return Image{}, err
	}
	key, err := newKey(room, info.Ext)
	if err != nil {
		return Image{}, err
	}
	return s.put(ctx, room, user, key, ImageSend{Data: data, Name: name}, info, sql.NullTime{}, "")
}

// readLimited reads r to its end, failing with ErrTooLarge past limit
// bytes; hint sizes the buffer.
func readLimited(r io.Reader, limit, hint int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, min(hint, limit)+1))
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("media: read upload: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}
