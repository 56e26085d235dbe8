package stomp

import (
	"strconv"
	"strings"
)

var headerEscaper12 = strings.NewReplacer("\\", `\\`, "\r", `\r`, "\n", `\n`, ":", `\c`)

// STOMP 1.1 has no escape for CR: a CR becomes a space, as in unescaped
// frames, so a value can never end in what reads as a CRLF.
var headerEscaper11 = strings.NewReplacer("\\", `\\`, "\r", " ", "\n", `\n`, ":", `\c`)

// AppendFrame encodes f for protocol version v onto dst. A content-length
// header is added when the body is not empty and none is set, so bodies may
// hold NUL bytes.
func AppendFrame(dst []byte, f *Frame, v Version) []byte {
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

// rawSanitizer keeps header values of unescaped frames (STOMP 1.0, CONNECTED)
// on one line: a value can never inject a header or end the header block.
var rawSanitizer = strings.NewReplacer("\r", " ", "\n", " ")

func appendEscaped(dst []byte, s string, v Version, escaped bool) []byte {
	if !strings.ContainsAny(s, "\\\r\n:") {
		return append(dst, s...)
	}
	if !escaped {
		return append(dst, rawSanitizer.Replace(s)...)
	}
	if v >= V12 {
		return append(dst, headerEscaper12.Replace(s)...)
	}
	return append(dst, headerEscaper11.Replace(s)...)
}
