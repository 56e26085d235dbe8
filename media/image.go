package media

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"

	"golang.org/x/image/webp"
)

// The errors of Inspect and ParseImageSend. Each is returned wrapped, with a
// reason a person can act on; test for them with errors.Is.
var (
	// ErrEmpty: there are no image bytes at all.
	ErrEmpty = errors.New("media: empty image")
	// ErrTooLarge: more than Limits.MaxBytes bytes (decoded, not base64).
	ErrTooLarge = errors.New("media: image too large")
	// ErrNotImage: the bytes (or the declared content type) are not PNG,
	// JPEG, GIF or WebP. The reason names what they look like instead.
	ErrNotImage = errors.New("media: not a supported image")
	// ErrBadImage: the magic number is right but the header does not decode.
	ErrBadImage = errors.New("media: corrupt image")
	// ErrDimensions: width or height below 1 or above Limits.MaxSide, or
	// width*height above Limits.MaxPixels.
	ErrDimensions = errors.New("media: image dimensions out of bounds")
)

// Limits bounds the images accepted. A zero or negative field means its
// default, so Limits{} is the same as DefaultLimits().
type Limits struct {
	MaxBytes  int64 // decoded bytes, default 10 MiB
	MaxSide   int   // width and height each, default 16384
	MaxPixels int64 // width*height, default 100_000_000 (decompression-bomb guard)
}

// The defaults of Limits.
const (
	DefaultMaxBytes  = 10 << 20
	DefaultMaxSide   = 16384
	DefaultMaxPixels = 100_000_000
)

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{MaxBytes: DefaultMaxBytes, MaxSide: DefaultMaxSide, MaxPixels: DefaultMaxPixels}
}

// orDefault returns lim with every zero or negative field set to its default.
func (lim Limits) orDefault() Limits {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultMaxBytes
	}
	if lim.MaxSide <= 0 {
		lim.MaxSide = DefaultMaxSide
	}
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultMaxPixels
	}
	return lim
}

// Info describes an image that passed Inspect.
type Info struct {
	ContentType   string // image/png, image/jpeg, image/gif or image/webp
	Ext           string // png, jpg, gif or webp (no dot)
	Width, Height int
	Size          int64    // len of the bytes
	SHA256        [32]byte // of the bytes
}

// imageFormat is one of the accepted image formats.
type imageFormat struct {
	contentType, ext string
	magic            func([]byte) bool
	decodeConfig     func(io.Reader) (image.Config, error)
}

// formats lists the accepted formats. Their decoders are called directly, so
// Inspect never depends on what else registered itself with package image.
var formats = []imageFormat{
	{"image/png", "png", hasPrefix("\x89PNG\r\n\x1a\n"), png.DecodeConfig},
	{"image/jpeg", "jpg", hasPrefix("\xff\xd8\xff"), jpeg.DecodeConfig},
	{"image/gif", "gif", isGIF, gif.DecodeConfig},
	{"image/webp", "webp", isWebP, webp.DecodeConfig},
}

func hasPrefix(magic string) func([]byte) bool {
	return func(b []byte) bool { return bytes.HasPrefix(b, []byte(magic)) }
}

func isGIF(b []byte) bool {
	return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
}

// isWebP matches "RIFF", a 4-byte length, "WEBP".
func isWebP(b []byte) bool {
	return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
}

// Inspect checks that b is one image in an accepted format within lim, from
// the bytes alone (any declared content type or file name is not
// consulted), and describes it. It reads only the headers: no pixels are
// decoded, so it is cheap whatever the dimensions claim. The errors wrap
// ErrEmpty, ErrTooLarge, ErrNotImage, ErrBadImage or ErrDimensions, checked
// in that order.
func Inspect(b []byte, lim Limits) (Info, error) {
	lim = lim.orDefault()
	switch {
	case len(b) == 0:
		return Info{}, fmt.Errorf("%w: zero bytes", ErrEmpty)
	case int64(len(b)) > lim.MaxBytes:
		return Info{}, fmt.Errorf("%w: %d bytes, more than %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	f, ok := sniff(b)
	if !ok {
		return Info{}, fmt.Errorf("%w: looks like %s, not PNG, JPEG, GIF or WebP",
			ErrNotImage, http.DetectContentType(b))
	}
	cfg, err := f.decodeConfig(bytes.NewReader(b))
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s header: %v", ErrBadImage, f.ext, err)
	}
	if err := checkDimensions(cfg.Width, cfg.Height, lim); err != nil {
		return Info{}, err
	}
	return Info{
		ContentType: f.contentType,
		Ext:         f.ext,
		Width:       cfg.Width,
		Height:      cfg.Height,
		Size:        int64(len(b)),
		SHA256:      sha256.Sum256(b),
	}, nil
}

// sniff finds the format whose magic number b starts with.
func sniff(b []byte) (imageFormat, bool) {
	for _, f := range formats {
		if f.magic(b) {
			return f, true
		}
	}
	return imageFormat{}, false
}

// checkDimensions applies lim (with defaults filled in) to w×h.
func checkDimensions(w, h int, lim Limits) error {
	switch {
	case w < 1 || h < 1:
		return fmt.Errorf("%w: %d×%d, each side must be at least 1", ErrDimensions, w, h)
	case w > lim.MaxSide || h > lim.MaxSide:
		return fmt.Errorf("%w: %d×%d, a side is longer than %d", ErrDimensions, w, h, lim.MaxSide)
	case int64(w)*int64(h) > lim.MaxPixels:
		return fmt.Errorf("%w: %d×%d is %d pixels, more than %d",
			ErrDimensions, w, h, int64(w)*int64(h), lim.MaxPixels)
	}
	return nil
}

// imageTypes maps the content types a client may declare (lower case, no
// parameters) to the canonical one. "image/jpg" is not registered but common
// in client code, so it is taken as image/jpeg.
var imageTypes = map[string]string{
	"image/png":  "image/png",
	"image/jpeg": "image/jpeg",
	"image/jpg":  "image/jpeg",
	"image/gif":  "image/gif",
	"image/webp": "image/webp",
}
