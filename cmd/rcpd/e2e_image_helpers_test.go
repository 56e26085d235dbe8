package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/archiver/blob/blobtest"
)

// blobURLSecret signs the disk store's URLs in the image tests.
const blobURLSecret = "e2e-blob-url-secret-0123456789"

// imageEnv is an rcpd node with images enabled, and ways to count what its
// blob store and its blobs table hold.
type imageEnv struct {
	e       *env
	n       *node
	objects func() int // blobs in the store
	store   string     // "disk" or "s3"
}

// diskImageEnv starts rcpd on a disk blob store in a temp dir; it returns
// the store's directory too.
func diskImageEnv(t *testing.T) (*imageEnv, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "blobs")
	e := newEnv(t)
	e.Extra = append(e.Extra, "RCP_BLOB_DIR="+dir, "RCP_BLOB_URL_SECRET="+blobURLSecret)
	n := e.start()
	return &imageEnv{e: e, n: n, store: "disk", objects: func() int { return countFiles(t, filepath.Join(dir, "objects")) }}, dir
}

// s3ImageEnv starts rcpd on a fresh bucket of the test S3 server; rcpd
// creates the bucket, the test removes it.
func s3ImageEnv(t *testing.T) *imageEnv {
	t.Helper()
	cfg := blobtest.NewBucketConfig(t)
	e := newEnv(t)
	e.Extra = append(e.Extra, "RCP_S3_BUCKET="+cfg.Bucket, "RCP_S3_ENDPOINT="+cfg.Endpoint,
		"RCP_S3_REGION="+cfg.Region, "RCP_S3_ACCESS_KEY="+cfg.AccessKey, "RCP_S3_SECRET_KEY="+cfg.SecretKey,
		"RCP_S3_PATH_STYLE=true")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := blob.NewS3Store(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the node starts, so it runs after the node is gone.
	t.Cleanup(func() { blobtest.RemoveBucket(t, s) })
	n := e.start()
	objects := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return len(blobtest.Keys(ctx, t, s))
	}
	return &imageEnv{e: e, n: n, store: "s3", objects: objects}
}

// countFiles counts the regular files under dir (0 when it does not exist).
func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return n
}

// blobRows counts the rows of the blobs table.
func (ie *imageEnv) blobRows(t *testing.T) int {
	t.Helper()
	db := ie.e.db()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM blobs").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// makePNG encodes a w×h NRGBA PNG; noise fills it with pseudo-random pixels
// (incompressible: the file is about 4·w·h bytes), else a gradient.
func makePNG(t *testing.T, w, h int, seed uint64, noise bool) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for y := range h {
		for x := range w {
			if noise {
				v := rnd.Uint32()
				img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), uint8(v>>24) | 1})
			} else {
				img.SetNRGBA(x, y, color.NRGBA{uint8(x * 16), uint8(y * 16), uint8(seed), uint8(128 + rnd.IntN(128))})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// imageSendBody is the base64 form of an image SEND.
func imageSendBody(data []byte, contentType, name string) []byte {
	img := map[string]any{"data": base64.StdEncoding.EncodeToString(data)}
	if contentType != "" {
		img["contentType"] = contentType
	}
	if name != "" {
		img["name"] = name
	}
	b, _ := json.Marshal(map[string]any{"type": "image", "image": img})
	return b
}

// keySendBody is the upload-key form of an image SEND.
func keySendBody(key, name string) []byte {
	img := map[string]any{"key": key}
	if name != "" {
		img["name"] = name
	}
	b, _ := json.Marshal(map[string]any{"type": "image", "image": img})
	return b
}

// deliveredImage is the `image` object of a delivered image message; Data
// is a pointer so that an absent `data` is told from an empty one.
type deliveredImage struct {
	uploadReply         // what the upload answered, stored with the message
	URL         string  `json:"url"`
	Data        *string `json:"data"`
}

// decodeImageBody reads a delivered image body strictly: no member beyond
// the contract's.
func decodeImageBody(t *testing.T, body []byte) deliveredImage {
	t.Helper()
	var b struct {
		Type  string         `json:"type"`
		Image deliveredImage `json:"image"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || b.Type != "image" {
		t.Fatalf("image body %.300s: type %q, %v", body, b.Type, err)
	}
	return b.Image
}

// wantImage is what a delivered image must say.
type wantImage struct {
	bytes         []byte
	width, height int
	name          string
	key           string // "" = any key of the room
	room          string
	inline        bool // `data` present (else absent)
}

var imageKeyRE = regexp.MustCompile(`^rooms/([A-Za-z0-9_-]+)/([0-9a-f]{2})/([0-9a-f]{32})\.png$`)

// checkImage checks every field of a delivered image, fetches its URL and
// compares the bytes; it returns the image.
func checkImage(t *testing.T, what string, got deliveredImage, want wantImage) deliveredImage {
	t.Helper()
	sum := sha256.Sum256(want.bytes)
	m := imageKeyRE.FindStringSubmatch(got.Key)
	switch {
	case m == nil || m[1] != want.room || m[2] != m[3][:2]:
		t.Fatalf("%s: key %q is not rooms/%s/<2 hex>/<32 hex>.png", what, got.Key, want.room)
	case want.key != "" && got.Key != want.key:
		t.Fatalf("%s: key %q, want %q", what, got.Key, want.key)
	case got.ContentType != "image/png" || got.Name != want.name || got.Size != int64(len(want.bytes)) ||
		got.Width != want.width || got.Height != want.height || got.SHA256 != hex.EncodeToString(sum[:]):
		t.Fatalf("%s: image %+v\nwant contentType image/png name %q size %d %d×%d sha256 %x",
			what, redact(got), want.name, len(want.bytes), want.width, want.height, sum)
	case want.inline && got.Data == nil:
		t.Fatalf("%s: %d bytes, under the inline threshold, but no data", what, got.Size)
	case !want.inline && got.Data != nil:
		t.Fatalf("%s: %d bytes, over the inline threshold, but data of %d chars", what, got.Size, len(*got.Data))
	}
	if want.inline {
		d, err := base64.StdEncoding.DecodeString(*got.Data)
		if err != nil || !bytes.Equal(d, want.bytes) {
			t.Fatalf("%s: data decodes to %d bytes (%v), not the %d sent", what, len(d), err, len(want.bytes))
		}
	}
	status, body, h := fetch(t, got.URL)
	if status != 200 || !bytes.Equal(body, want.bytes) {
		t.Fatalf("%s: GET %s: %d with %d bytes, want 200 with the %d sent", what, got.URL, status, len(body), len(want.bytes))
	}
	if ct := h.Get("Content-Type"); ct != "image/png" {
		t.Fatalf("%s: GET url: Content-Type %q, want image/png", what, ct)
	}
	return got
}

// redact shortens Data for messages.
func redact(img deliveredImage) deliveredImage {
	if img.Data != nil && len(*img.Data) > 40 {
		s := (*img.Data)[:40] + "…"
		img.Data = &s
	}
	return img
}

// fetch GETs u with a plain client.
func fetch(t *testing.T, u string) (int, []byte, http.Header) {
	t.Helper()
	if u == "" {
		t.Fatal("empty url")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, b, resp.Header
}

// uploadReply is a 201 of POST /v1/uploads: the image's stored fields.
type uploadReply struct {
	Key         string `json:"key"`
	ContentType string `json:"contentType"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	SHA256      string `json:"sha256"`
}

// apiError is a 4xx body.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// uploadReq is one POST /v1/uploads.
type uploadReq struct {
	token       string // "" = no Authorization header
	room, name  string
	body        io.Reader
	size        int64 // Content-Length; -1 = unknown (chunked)
	contentType string
}

// upload sends the request and returns the status and the body.
func (n *node) upload(r uploadReq) (int, []byte) {
	n.t.Helper()
	q := url.Values{"room": {r.room}}
	if r.name != "" {
		q.Set("name", r.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+n.Addr+"/v1/uploads?"+q.Encode(), r.body)
	if err != nil {
		n.t.Fatal(err)
	}
	req.ContentLength = r.size
	if r.size == 0 {
		req.Body = http.NoBody
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatalf("POST /v1/uploads: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("POST /v1/uploads: reading the reply: %v", err)
	}
	return resp.StatusCode, b
}

// uploadOK uploads data as user (raw body) and checks the 201 reply.
func (n *node) uploadOK(user, room, name string, data []byte, w, h int) uploadReply {
	n.t.Helper()
	status, b := n.upload(uploadReq{token: token(n.t, user), room: room, name: name,
		body: bytes.NewReader(data), size: int64(len(data)), contentType: "application/octet-stream"})
	return checkUploadReply(n.t, status, b, room, name, data, w, h)
}

// checkUploadReply checks a 201 reply against the uploaded bytes.
func checkUploadReply(t *testing.T, status int, b []byte, room, name string, data []byte, w, h int) uploadReply {
	t.Helper()
	var r uploadReply
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if status != 201 {
		t.Fatalf("upload: %d %s, want 201", status, b)
	}
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("upload reply %s: %v", b, err)
	}
	sum := sha256.Sum256(data)
	m := imageKeyRE.FindStringSubmatch(r.Key)
	if m == nil || m[1] != room || r.ContentType != "image/png" || r.Name != name || r.Size != int64(len(data)) ||
		r.Width != w || r.Height != h || r.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("upload reply %+v\nwant room %s name %q size %d %d×%d sha256 %x", r, room, name, len(data), w, h, sum)
	}
	return r
}

// zeros reads as endless zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// pngMagic starts every PNG file.
const pngMagic = "\x89PNG\r\n\x1a\n"

// bigPNGish is n bytes starting like a PNG, the rest zeros, generated as
// read (nothing of size n is allocated).
func bigPNGish(n int64) io.Reader {
	return io.MultiReader(strings.NewReader(pngMagic), io.LimitReader(zeros{}, n-int64(len(pngMagic))))
}
