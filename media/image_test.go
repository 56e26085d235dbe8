package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"golang.org/x/image/webp"
)

// webpLossless3x2 is a 3×2 lossless WebP (VP8L) of transparent pixels: the
// 1×1 image Modernizr uses to detect WebP support, with the VP8L header's
// size bits changed (its pixels take zero bits each, so any size decodes).
var webpLossless3x2 = []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\r\x00\x00\x00/\x02@\x00\x10\a\x10\x11\x11\x88\x88\xfe\a\x00")

// webpLossy1x1 is a 1×1 lossy WebP (VP8), also Modernizr's.
var webpLossy1x1 = []byte("RIFF\"\x00\x00\x00WEBPVP8 \x16\x00\x00\x000\x01\x00\x9d\x01*\x01\x00\x01\x00\x0e\xc0\xfe%\xa4\x00\x03p\x00\x00\x00\x00")

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 255})
		}
	}
	return img
}

func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG signature and an IHDR chunk (8-bit RGB) with a correct
// CRC, and nothing else: enough for png.DecodeConfig.
func pngHeader(w, h uint32) []byte {
	data := make([]byte, 13)
	binary.BigEndian.PutUint32(data[0:], w)
	binary.BigEndian.PutUint32(data[4:], h)
	data[8], data[9] = 8, 2 // bit depth, color type RGB
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	chunk = append(chunk, "IHDR"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	return append([]byte("\x89PNG\r\n\x1a\n"), chunk...)
}

func TestWebPLiteralsDecode(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		w, h int
	}{{"lossless", webpLossless3x2, 3, 2}, {"lossy", webpLossy1x1, 1, 1}} {
		img, err := webp.Decode(bytes.NewReader(tc.b))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := img.Bounds(); got != image.Rect(0, 0, tc.w, tc.h) {
			t.Errorf("%s: bounds %v, want %dx%d", tc.name, got, tc.w, tc.h)
		}
	}
}

func TestInspect(t *testing.T) {
	for _, tc := range []struct {
		name, ct, ext string
		b             []byte
		w, h          int
	}{
		{"png", "image/png", "png", encodePNG(t, 37, 21), 37, 21},
		{"jpeg", "image/jpeg", "jpg", encodeJPEG(t, 40, 30), 40, 30},
		{"gif", "image/gif", "gif", encodeGIF(t, 17, 9), 17, 9},
		{"webp lossless", "image/webp", "webp", webpLossless3x2, 3, 2},
		{"webp lossy", "image/webp", "webp", webpLossy1x1, 1, 1},
		{"png header only, within limits", "image/png", "png", pngHeader(16384, 6103), 16384, 6103},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.b, DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			want := Info{ContentType: tc.ct, Ext: tc.ext, Width: tc.w, Height: tc.h,
				Size: int64(len(tc.b)), SHA256: sha256.Sum256(tc.b)}
			if info != want {
				t.Errorf("Inspect = %+v\nwant      %+v", info, want)
			}
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	small := encodePNG(t, 8, 8)
	gif0x0 := append([]byte("GIF89a\x00\x00\x00\x00\x00\x00\x00"), ';')
	for _, tc := range []struct {
		name string
		b    []byte
		lim  Limits
		want error
		msg  string // in the error text
	}{
		{"zero bytes", nil, Limits{}, ErrEmpty, "zero bytes"},
		{"pdf", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), Limits{}, ErrNotImage, "application/pdf"},
		{"html", []byte("<!DOCTYPE html><html><body><img src=x></body></html>"), Limits{}, ErrNotImage, "text/html; charset=utf-8"},
		{"text", []byte("iVBORw0KGgo="), Limits{}, ErrNotImage, "text/plain"},
		{"bmp", []byte("BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00"), Limits{}, ErrNotImage, "image/bmp"},
		{"png magic only", []byte("\x89PNG\r\n\x1a\n"), Limits{}, ErrBadImage, "png header"},
		{"png bad crc", append(pngHeader(10, 10)[:len(pngHeader(10, 10))-1], 0), Limits{}, ErrBadImage, "checksum"},
		{"jpeg magic only", []byte("\xff\xd8\xff"), Limits{}, ErrBadImage, "jpg header"},
		{"gif magic only", []byte("GIF89a"), Limits{}, ErrBadImage, "gif header"},
		{"webp magic only", []byte("RIFF\x04\x00\x00\x00WEBP"), Limits{}, ErrBadImage, "webp header"},
		{"png 100000x100000", pngHeader(100000, 100000), Limits{}, ErrDimensions, "100000×100000"},
		{"png side over MaxSide", pngHeader(16385, 1), Limits{}, ErrDimensions, "longer than 16384"},
		{"png pixels over MaxPixels", pngHeader(10000, 10001), Limits{}, ErrDimensions, "100010000 pixels"},
		{"custom MaxSide", small, Limits{MaxSide: 7}, ErrDimensions, "longer than 7"},
		{"gif 0x0", gif0x0, Limits{}, ErrDimensions, "at least 1"},
		{"over MaxBytes", small, Limits{MaxBytes: int64(len(small) - 1)}, ErrTooLarge, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.b, tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Inspect = %+v, %v; want %v", info, err, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if info != (Info{}) {
				t.Errorf("Info %+v with an error", info)
			}
		})
	}
}

func TestLimitsDefaults(t *testing.T) {
	if got := (Limits{}).orDefault(); got != DefaultLimits() {
		t.Errorf("Limits{} = %+v, want %+v", got, DefaultLimits())
	}
	if got := (Limits{MaxBytes: -1, MaxSide: 5}).orDefault(); got.MaxBytes != DefaultMaxBytes || got.MaxSide != 5 {
		t.Errorf("partial limits = %+v", got)
	}
}
