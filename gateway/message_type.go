package gateway

import "bytes"

// messageType finds the string value of the top-level "type" member of a
// JSON object without decoding the rest: an image body is megabytes of
// base64 that encoding/json scans at tens of MB/s, while this skips strings
// with bytes.IndexByte. It does not validate; the parser of the type does.
// ok is false when the body is not an object with a plain string "type".
func messageType(body []byte) (typ string, ok bool) {
	s := jsonSkimmer{b: body}
	if !s.eat('{') {
		return "", false
	}
	for {
		key, ok := s.str()
		if !ok || !s.eat(':') {
			return "", false
		}
		if string(key) == "type" {
			v, ok := s.str()
			if !ok || bytes.IndexByte(v, '\\') >= 0 {
				return "", false
			}
			return string(v), true
		}
		if !s.skipValue() {
			return "", false
		}
		if !s.eat(',') {
			return "", false
		}
	}
}

// jsonSkimmer walks JSON structure, skipping values.
type jsonSkimmer struct {
	b []byte
	i int
}

func (s *jsonSkimmer) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *jsonSkimmer) eat(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string and returns its raw contents (escapes left in place).
func (s *jsonSkimmer) str() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			return nil, false
		}
		s.i += j + 1
		if backslashes(s.b[start:s.i-1])%2 == 0 {
			return s.b[start : s.i-1], true
		}
	}
}

// backslashes counts the backslashes that end b.
func backslashes(b []byte) int {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	return n
}

// skipValue skips one value: a string, an object or array (nested), or a
// literal up to the next ',' or '}' of this level.
func (s *jsonSkimmer) skipValue() bool {
	s.ws()
	depth := 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			if _, ok := s.str(); !ok {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth == 0 {
				return true // the end of the enclosing object: a literal ended
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case c == ',' && depth == 0:
			return true
		}
		s.i++
	}
	return false
}
