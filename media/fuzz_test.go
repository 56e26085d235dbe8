package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rcp/rcp/archiver/blob"
)

// The seed corpus is in testdata/fuzz/<FuzzName>/; these add the test's own
// generated images.

var sentinels = []error{ErrEmpty, ErrTooLarge, ErrNotImage, ErrBadImage, ErrDimensions,
	ErrBadJSON, ErrBadBase64, ErrBadName, ErrBadKey}

// checkSentinel fails unless err wraps exactly one of the package's errors.
func checkSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d of the package's errors, want 1", err, n)
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(encodePNG(f, 3, 2))
	f.Add(encodeJPEG(f, 9, 5))
	f.Add(encodeGIF(f, 2, 7))
	f.Add(webpLossless3x2)
	f.Add(webpLossy1x1)
	lim := Limits{MaxBytes: 1 << 20, MaxSide: 4096, MaxPixels: 1 << 22}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Inspect(b, lim)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		if info.Width < 1 || info.Height < 1 || info.Width > lim.MaxSide || info.Height > lim.MaxSide ||
			int64(info.Width)*int64(info.Height) > lim.MaxPixels {
			t.Fatalf("%d×%d outside %+v", info.Width, info.Height, lim)
		}
		f, _ := sniff(b)
		if info.ContentType != f.contentType || info.Ext != f.ext || info.Size != int64(len(b)) ||
			info.SHA256 != sha256.Sum256(b) {
			t.Fatalf("Inspect = %+v for %d bytes", info, len(b))
		}
	})
}

func FuzzParseImageSend(f *testing.F) {
	f.Add(sendBody(base64.StdEncoding.EncodeToString(encodePNG(f, 2, 2)), "image/png", "a.png"))
	f.Add(sendBody(jsonEscaped(wrap(base64.URLEncoding.EncodeToString(webpLossy1x1), 8, "\r\n")), "", ""))
	lim := Limits{MaxBytes: 1 << 12}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseImageSend(body, lim)
		if err != nil {
			checkSentinel(t, err)
			if s.Data != nil || s.Key != "" || s.Name != "" || s.ContentType != "" {
				t.Fatalf("%+v with error %v", s, err)
			}
			return
		}
		if (s.Data == nil) == (s.Key == "") {
			t.Fatalf("data %d bytes, key %q: want exactly one", len(s.Data), s.Key)
		}
		if int64(len(s.Data)) > lim.MaxBytes {
			t.Fatalf("%d bytes over the limit %d", len(s.Data), lim.MaxBytes)
		}
		compareWithJSON(t, body, s)
	})
}

// compareWithJSON checks an accepted body against encoding/json and a
// straightforward base64 decoding.
func compareWithJSON(t *testing.T, body []byte, s ImageSend) {
	t.Helper()
	var ref struct {
		Type  string
		Image struct {
			Data, Key         *string
			ContentType, Name string
		}
	}
	if err := json.Unmarshal(body, &ref); err != nil {
		t.Fatalf("accepted, but encoding/json says %v", err)
	}
	if ref.Type != "image" || ref.Image.Name != s.Name {
		t.Fatalf("type %q name %q, encoding/json: %+v", "image", s.Name, ref)
	}
	if ct, _ := checkType(ref.Image.ContentType); ct != "" && ct != s.ContentType {
		t.Fatalf("content type %q, encoding/json: %q", s.ContentType, ref.Image.ContentType)
	}
	if s.Key != "" {
		if ref.Image.Key == nil || *ref.Image.Key != s.Key || blob.ValidKey(s.Key) != nil {
			t.Fatalf("key %q, encoding/json: %v", s.Key, ref.Image.Key)
		}
		return
	}
	want, err := refDecode(*ref.Image.Data)
	if err != nil || !bytes.Equal(want, s.Data) {
		t.Fatalf("data %x, reference decoding %x, %v", s.Data, want, err)
	}
}

// refDecode decodes data as ParseImageSend documents it, the simple way.
func refDecode(data string) ([]byte, error) {
	if len(data) >= 5 && strings.EqualFold(data[:5], "data:") {
		_, data, _ = strings.Cut(data, ",")
	}
	data = strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "", "-", "+", "_", "/").Replace(data)
	return base64.RawStdEncoding.DecodeString(strings.TrimSuffix(strings.TrimSuffix(data, "="), "="))
}
