package media

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// fetchTimeout bounds reading an inline image from the blob store during
// delivery; past it the MESSAGE goes out with the URL only.
const fetchTimeout = 2 * time.Second

// Deliverable returns the body to put in a MESSAGE for a stored image
// entry: the stored `image` object plus `url` (fresh for URLTTL) and, for
// images of at most InlineMax bytes when inline is set, `data` (base64;
// REST history pages leave it out). A store that fails
// leaves the field out (logged); a body that is not a stored image body is
// returned unchanged.
func (s *Service) Deliverable(ctx context.Context, body []byte, inline bool) []byte {
	var b imageBody
	if err := json.Unmarshal(body, &b); err != nil || b.Type != "image" || b.Image.Key == "" {
		return body
	}
	img := &b.Image
	img.URL, img.Data = s.urlOf(ctx, img.Key), nil
	if inline && img.Size > 0 && img.Size <= s.cfg.InlineMax {
		img.Data = s.dataOf(ctx, img.Key, img.Size)
	}
	out, err := encodeBody(*img)
	if err != nil {
		return body
	}
	return out
}

// urlOf signs a URL for key, reusing one signed less than half a TTL ago.
func (s *Service) urlOf(ctx context.Context, key string) string {
	now := s.now()
	if u, ok := s.cache.url(key, now); ok {
		return u
	}
	u, err := s.store.URL(ctx, key, s.cfg.URLTTL)
	if err != nil {
		s.log.Warn("image url not signed", "key", key, "err", err)
		return ""
	}
	s.cache.putURL(key, u, now.Add(s.cfg.URLTTL/2))
	return u
}

// dataOf returns the bytes of a small image, from the cache or the store.
func (s *Service) dataOf(ctx context.Context, key string, size int64) []byte {
	if d, ok := s.cache.data(key); ok {
		return d
	}
	d, err := s.fetch(ctx, key, size)
	if err != nil {
		s.log.Warn("inline image not read", "key", key, "err", err)
		return nil
	}
	s.cache.putData(key, d)
	return d
}

func (s *Service) fetch(ctx context.Context, key string, size int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	rc, _, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	d, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(d)) != size {
		return nil, fmt.Errorf("media: blob %s holds %d bytes, entry says %d", key, len(d), size)
	}
	return d, nil
}

// cache keeps signed URLs and the bytes of small images by key, for the
// fan-out of one message to many subscriptions. Data is bounded by bytes,
// URLs by count; both evict oldest first.
type cache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	dataKeys []string
	datas    map[string][]byte
	urlKeys  []string
	urls     map[string]cachedURL
}

type cachedURL struct {
	url   string
	until time.Time
}

// maxURLs bounds the cached URLs (about 300 bytes each).
const maxURLs = 4096

func newCache(maxBytes int64) *cache {
	return &cache{maxBytes: maxBytes, datas: make(map[string][]byte), urls: make(map[string]cachedURL)}
}

func (c *cache) data(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.datas[key]
	return d, ok
}

func (c *cache) putData(key string, d []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.datas[key]; ok || int64(len(d)) > c.maxBytes {
		return
	}
	for c.bytes+int64(len(d)) > c.maxBytes && len(c.dataKeys) > 0 {
		old := c.dataKeys[0]
		c.dataKeys = c.dataKeys[1:]
		c.bytes -= int64(len(c.datas[old]))
		delete(c.datas, old)
	}
	c.datas[key] = d
	c.dataKeys = append(c.dataKeys, key)
	c.bytes += int64(len(d))
}

func (c *cache) url(key string, now time.Time) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.urls[key]
	if !ok || !now.Before(u.until) {
		return "", false
	}
	return u.url, true
}

func (c *cache) putURL(key, u string, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.urls[key]; !ok {
		if len(c.urlKeys) >= maxURLs {
			delete(c.urls, c.urlKeys[0])
			c.urlKeys = c.urlKeys[1:]
		}
		c.urlKeys = append(c.urlKeys, key)
	}
	c.urls[key] = cachedURL{url: u, until: until}
}

// forget drops a deleted blob's entries.
func (c *cache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.datas[key]; ok {
		c.bytes -= int64(len(d))
		delete(c.datas, key)
	}
	delete(c.urls, key)
	// the key stays in the FIFO slices; eviction of a missing key is a no-op
}
