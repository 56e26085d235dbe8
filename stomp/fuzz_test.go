package stomp_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/rcp/rcp/stomp"
)

// fuzzLimits are small so the fuzzer reaches every limit with short inputs.
var fuzzLimits = stomp.Limits{MaxFrameSize: 512, MaxHeaders: 6, MaxHeaderLen: 96, MaxBodySize: 256}

// fuzzCodecErrors are the only errors ReadFrame may return over an in-memory
// source, besides io.EOF and io.ErrUnexpectedEOF.
var fuzzCodecErrors = []error{
	stomp.ErrFrameTooLarge, stomp.ErrTooManyHeaders, stomp.ErrHeaderTooLong, stomp.ErrBodyTooLarge,
	stomp.ErrBadCommand, stomp.ErrMissingNUL, stomp.ErrBadHeader, stomp.ErrBadEscape,
	stomp.ErrInvalidUTF8, stomp.ErrBadContentLength,
}

// fuzzConsumedBound is how far past a frame's first byte the reader may pull
// before it returns that frame or refuses it: the frame limit, one header
// line it is still reading, one buffer fill and a CR per line. Anything more
// would mean memory grows with the input instead of the limits.
func fuzzConsumedBound(lim stomp.Limits, bufSize int) int {
	return lim.MaxFrameSize + lim.MaxHeaderLen + bufSize + lim.MaxHeaders + 8
}

// FuzzReadFrame decodes arbitrary bytes with every version and two buffer
// sizes. It checks that the reader never panics, returns only its own
// sentinels, stays within its limits, reports io.EOF only at a clean end,
// and that every frame it returns round-trips through AppendFrame.
func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []stomp.Version{stomp.V10, stomp.V11, stomp.V12} {
			for _, size := range []int{16, 4096} {
				fuzzDecode(t, data, v, size)
			}
		}
	})
}

func fuzzDecode(t *testing.T, data []byte, v stomp.Version, bufSize int) {
	src := &fuzzCountingReader{r: bytes.NewReader(data)}
	br := bufio.NewReaderSize(src, bufSize)
	r := stomp.NewReaderBuf(br, fuzzLimits)
	r.Version = v
	bound := fuzzConsumedBound(fuzzLimits, br.Size())
	offset := 0 // where the reader stands in data
	for {
		start := offset + fuzzEOLPrefix(data[offset:])
		f, err := r.ReadFrame()
		offset = src.n - br.Buffered()
		if offset-start > bound {
			t.Fatalf("%s: pulled %d bytes past a frame's start (bound %d), err %v", v, offset-start, bound, err)
		}
		if err != nil {
			fuzzCheckError(t, data, start, v, err)
			return
		}
		fuzzCheckFrame(t, f, v)
	}
}

func fuzzCheckError(t *testing.T, data []byte, start int, v stomp.Version, err error) {
	if err == io.EOF {
		if start != len(data) {
			t.Fatalf("%s: io.EOF with %q left after the last frame", v, data[start:])
		}
		return
	}
	if err == io.ErrUnexpectedEOF {
		return
	}
	for _, s := range fuzzCodecErrors {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("%s: ReadFrame returned %#v, not a codec sentinel", v, err)
}

func fuzzCheckFrame(t *testing.T, f *stomp.Frame, v stomp.Version) {
	lim := fuzzLimits
	if len(f.Header) > lim.MaxHeaders || len(f.Body) > lim.MaxBodySize {
		t.Fatalf("%s: %d headers, %d body bytes: over the limits %+v", v, len(f.Header), len(f.Body), lim)
	}
	if f.Body != nil && len(f.Body) == 0 {
		t.Fatalf("%s: empty body is not nil", v)
	}
	size := len(f.Command) + 1 + 1 + len(f.Body)
	for _, h := range f.Header {
		// Unescaping only shrinks a line, so each decoded header fits in one.
		if len(h.Key)+1+len(h.Value) > lim.MaxHeaderLen {
			t.Fatalf("%s: header %q over MaxHeaderLen", v, h)
		}
		size += len(h.Key) + 1 + len(h.Value) + 1
	}
	if size > lim.MaxFrameSize {
		t.Fatalf("%s: decoded frame of %d bytes over MaxFrameSize %d", v, size, lim.MaxFrameSize)
	}
	if _, _, err := f.ContentLength(); err != nil {
		t.Fatalf("%s: frame returned with a bad content-length: %v", v, err)
	}

	// The writer may add headers and escapes, so it is read back with the
	// default limits.
	wire := stomp.AppendFrame(nil, f, v)
	r := stomp.NewReader(bytes.NewReader(wire), stomp.DefaultLimits())
	r.Version = v
	got, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("%s: %q (%q) encodes as %q, which does not read back: %v", v, f.Command, f.Header, wire, err)
	}
	if want := codecWritten(f); !codecEqual(got, want) {
		t.Fatalf("%s: round trip through %q\n got %s %q %q\nwant %s %q %q", v, wire,
			got.Command, got.Header, got.Body, want.Command, want.Header, want.Body)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("%s: %q holds more than one frame: %v", v, wire, err)
	}
}

// fuzzEOLPrefix is the length of the heart-beat EOLs (LF or CRLF) at the
// start of b.
func fuzzEOLPrefix(b []byte) int {
	n := 0
	for {
		switch {
		case n < len(b) && b[n] == '\n':
			n++
		case n+1 < len(b) && b[n] == '\r' && b[n+1] == '\n':
			n += 2
		default:
			return n
		}
	}
}

type fuzzCountingReader struct {
	r io.Reader
	n int
}

func (c *fuzzCountingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
