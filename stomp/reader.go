package stomp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Limits bound what one frame may cost. A frame over any of them is refused
// with the matching sentinel error before the memory is allocated.
type Limits struct {
	MaxFrameSize int // command, headers and body together, in bytes
	MaxHeaders   int // header lines per frame
	MaxHeaderLen int // bytes in one header (or command) line
	MaxBodySize  int // body bytes
}

// DefaultLimits are generous enough for a 1 MiB text body and a few MiB of
// base64 image, and small enough that a hostile client cannot make one
// connection cost much memory.
func DefaultLimits() Limits {
	return Limits{
		MaxFrameSize: 4<<20 + 64<<10,
		MaxHeaders:   64,
		MaxHeaderLen: 8 << 10,
		MaxBodySize:  4 << 20,
	}
}

// Reader decodes frames from a byte stream. It is not safe for concurrent use.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	// Version selects header unescaping; it is set once CONNECT is done.
	Version Version
	// FrameStarted, if set, is called when the first byte of a frame (not a
	// heart-beat) arrives, so the caller can bound how long a frame may take.
	FrameStarted func()
	line         []byte
}

// NewReader returns a Reader over r with the given limits.
func NewReader(r io.Reader, lim Limits) *Reader {
	return NewReaderBuf(bufio.NewReaderSize(r, 2048), lim)
}

// NewReaderBuf returns a Reader over an existing buffered reader.
func NewReaderBuf(br *bufio.Reader, lim Limits) *Reader {
	return &Reader{br: br, lim: lim, Version: V12}
}

// ReadFrame returns the next frame, skipping heart-beat EOLs. At a clean end
// of stream between frames it returns io.EOF; inside a frame,
// io.ErrUnexpectedEOF.
func (r *Reader) ReadFrame() (*Frame, error) {
	if err := r.skipHeartbeats(); err != nil {
		return nil, err
	}
	if r.FrameStarted != nil {
		r.FrameStarted()
	}
	line, err := r.readLine()
	if err != nil {
		return nil, err
	}
	cmd, ok := commands[string(line)]
	if !ok {
		return nil, errorf(ErrBadCommand, "%q", truncate(line, 32))
	}
	f := &Frame{Command: cmd}
	size := len(line) + 1
	if size, err = r.readHeaders(f, size); err != nil {
		return nil, err
	}
	if f.Body, err = r.readBody(f, size); err != nil {
		return nil, err
	}
	return f, nil
}

func (r *Reader) skipHeartbeats() error {
	for {
		b, err := r.br.ReadByte()
		if err != nil {
			return err
		}
		switch b {
		case '\n':
			continue
		case '\r':
			next, err := r.br.ReadByte()
			if err != nil {
				return unexpected(err)
			}
			if next != '\n' {
				return errorf(ErrBadCommand, "stray carriage return")
			}
			continue
		}
		return r.br.UnreadByte()
	}
}

func (r *Reader) readHeaders(f *Frame, size int) (int, error) {
	escaped := r.Version.escapes(f.Command)
	for {
		line, err := r.readLine()
		if err != nil {
			return 0, err
		}
		size += len(line) + 1
		if size > r.lim.MaxFrameSize {
			return 0, errorf(ErrFrameTooLarge, "headers exceed %d bytes", r.lim.MaxFrameSize)
		}
		if len(line) == 0 {
			return size, nil
		}
		if len(f.Header) >= r.lim.MaxHeaders {
			return 0, errorf(ErrTooManyHeaders, "more than %d", r.lim.MaxHeaders)
		}
		field, err := r.parseHeader(line, escaped)
		if err != nil {
			return 0, err
		}
		if f.Header == nil {
			f.Header = make(Header, 0, 8)
		}
		f.Header = append(f.Header, field)
	}
}

func (r *Reader) parseHeader(line []byte, escaped bool) (HeaderField, error) {
	if !utf8.Valid(line) {
		return HeaderField{}, errorf(ErrInvalidUTF8, "%q", truncate(line, 32))
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		// Only an EOL may hold a CR (1.2 escapes it as \r). A bare one could
		// not be written back: a value ending in CR would read as a CRLF.
		return HeaderField{}, errorf(ErrBadHeader, "carriage return in %q", truncate(line, 32))
	}
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return HeaderField{}, errorf(ErrBadHeader, "no key before ':' in %q", truncate(line, 32))
	}
	key, val := line[:i], line[i+1:]
	if !escaped {
		return HeaderField{string(key), string(val)}, nil
	}
	k, err := unescape(key, r.Version)
	if err != nil {
		return HeaderField{}, err
	}
	v, err := unescape(val, r.Version)
	if err != nil {
		return HeaderField{}, err
	}
	return HeaderField{k, v}, nil
}

func (r *Reader) readBody(f *Frame, size int) ([]byte, error) {
	room := min(r.lim.MaxBodySize, r.lim.MaxFrameSize-size)
	n, ok, err := f.ContentLength()
	if err != nil {
		return nil, err
	}
	if !ok {
		return r.readUntilNUL(room)
	}
	if n > r.lim.MaxBodySize {
		return nil, errorf(ErrBodyTooLarge, "content-length %d over limit %d", n, r.lim.MaxBodySize)
	}
	if n > room {
		return nil, errorf(ErrFrameTooLarge, "content-length %d leaves frame over %d bytes", n, r.lim.MaxFrameSize)
	}
	body, err := readN(r.br, n)
	if err != nil {
		return nil, unexpected(err)
	}
	nul, err := r.br.ReadByte()
	if err != nil {
		return nil, unexpected(err)
	}
	if nul != 0 {
		return nil, errorf(ErrMissingNUL, "byte %d after content-length %d body is not NUL", nul, n)
	}
	if n == 0 {
		return nil, nil
	}
	return body, nil
}

// bodyChunk is the first allocation of a large body: memory grows with the
// bytes that arrive, not with what content-length announces, so a peer
// cannot make the server allocate MaxBodySize by sending a header alone.
const bodyChunk = 64 << 10

// readN reads exactly n bytes, doubling the buffer as they arrive.
func readN(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, bodyChunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), cap(buf)))
		}
		m, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// readUntilNUL reads a body that has no content-length, at most limit bytes.
func (r *Reader) readUntilNUL(limit int) ([]byte, error) {
	var body []byte
	for {
		chunk, err := r.br.ReadSlice(0)
		if len(body)+len(chunk) > limit+1 {
			return nil, errorf(ErrBodyTooLarge, "no NUL within %d bytes", limit)
		}
		switch {
		case err == nil:
			if body == nil && len(chunk) == 1 {
				return nil, nil
			}
			body = append(body, chunk[:len(chunk)-1]...)
			return body, nil
		case errors.Is(err, bufio.ErrBufferFull):
			body = append(body, chunk...)
		default:
			return nil, unexpected(err)
		}
	}
}

// readLine returns one line without its EOL (LF or CRLF). The slice is valid
// until the next read.
func (r *Reader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.line)+len(chunk) > r.lim.MaxHeaderLen+2 {
			return nil, errorf(ErrHeaderTooLong, "line over %d bytes", r.lim.MaxHeaderLen)
		}
		switch {
		case err == nil:
			line := chunk
			if len(r.line) > 0 {
				r.line = append(r.line, chunk...)
				line = r.line
			}
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > r.lim.MaxHeaderLen {
				return nil, errorf(ErrHeaderTooLong, "line over %d bytes", r.lim.MaxHeaderLen)
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.line = append(r.line, chunk...)
		default:
			return nil, unexpected(err)
		}
	}
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func unescape(b []byte, v Version) (string, error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			out = append(out, b[i])
			continue
		}
		i++
		if i == len(b) {
			return "", errorf(ErrBadEscape, "trailing backslash")
		}
		switch b[i] {
		case 'n':
			out = append(out, '\n')
		case 'c':
			out = append(out, ':')
		case '\\':
			out = append(out, '\\')
		case 'r':
			if v < V12 {
				return "", errorf(ErrBadEscape, `\r is not defined in STOMP %s`, v)
			}
			out = append(out, '\r')
		default:
			return "", errorf(ErrBadEscape, `\%s`, strconv.QuoteRune(rune(b[i])))
		}
	}
	return string(out), nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
