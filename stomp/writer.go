package stomp

import (
	"slices"
	"strconv"
	"strings"
)

// AppendFrame encodes f for protocol version v onto dst. A content-length
// header is added when the body is not empty and none is set, so bodies may
// hold NUL bytes.
func AppendFrame(dst []byte, f *Frame, v Version) []byte {
	dst = slices.Grow(dst, encodedSize(f)) // one allocation, not one per doubling
	dst = append(dst, f.Command...)
	dst = append(dst, '\n')
	escaped := v.escapes(f.Command)
	hasLen := false
	for _, h := range f.Header {
		if h.Key == "content-length" {
			if hasLen {
				continue
			}
			hasLen = true
			h.Value = strconv.Itoa(len(f.Body))
		}
		dst = appendEscaped(dst, h.Key, v, escaped)
		dst = append(dst, ':')
		dst = appendEscaped(dst, h.Value, v, escaped)
		dst = append(dst, '\n')
	}
	if !hasLen && len(f.Body) > 0 {
		dst = append(dst, "content-length:"...)
		dst = strconv.AppendInt(dst, int64(len(f.Body)), 10)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, f.Body...)
	return append(dst, 0)
}

// encodedSize is the length of f encoded without escapes, with room for a
// content-length header: escaping only adds to it.
func encodedSize(f *Frame) int {
	n := len(f.Command) + len("\ncontent-length:\n\n\x00") + 20 + len(f.Body)
	for _, h := range f.Header {
		n += len(h.Key) + len(h.Value) + 2
	}
	return n
}

// appendEscaped appends a header key or value. Escaped frames (STOMP 1.1
// and 1.2, but CONNECT and CONNECTED) escape '\\', LF and ':'; CR is escaped
// in 1.2 and becomes a space in 1.1, which has no escape for it, so a value
// never ends in what reads as a CRLF. Unescaped frames (STOMP 1.0,
// CONNECTED) turn CR and LF into spaces: a value can never inject a header
// or end the header block.
func appendEscaped(dst []byte, s string, v Version, escaped bool) []byte {
	if !strings.ContainsAny(s, "\\\r\n:") {
		return append(dst, s...)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' && (!escaped || v < V12), c == '\n' && !escaped:
			dst = append(dst, ' ')
		case !escaped:
			dst = append(dst, c)
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == ':':
			dst = append(dst, '\\', 'c')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
