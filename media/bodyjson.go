package media

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// The strict JSON reading of ParseImageSend. encoding/json would copy the
// base64 text or decode it to a string, match member names without regard
// to case and take repeated members; this reads the few shapes an image
// SEND body may have and leaves strings in place.

// sendFields holds the members of an image SEND body as found, unchecked.
type sendFields struct {
	typ, data, key, ctype, name jsonString
	image                       bool // "image" was seen
}

// jsonString is a string member as it stands in the body.
type jsonString struct {
	seen    bool   // the member was given (maybe as null)
	present bool   // as a string
	esc     bool   // q holds escapes
	q       []byte // the string with its quotes
	at      int    // offset of q in the body
}

func (s jsonString) raw() []byte { return s.q[1 : len(s.q)-1] }

// text is the string's value; "" when absent.
func (s jsonString) text() string {
	if !s.present {
		return ""
	}
	if !s.esc {
		return string(s.raw())
	}
	var v string
	_ = json.Unmarshal(s.q, &v) // cannot fail: p.str validated q
	return v
}

// parseFields reads the JSON structure of an image SEND body.
func parseFields(body []byte) (*sendFields, error) {
	p := &bodyParser{b: body}
	f := &sendFields{}
	err := p.object("the body", func(name string, at int) error {
		switch name {
		case "type":
			return p.stringMember(&f.typ, name, at, false)
		case "image":
			if f.image {
				return p.errAt(at, `"image" repeated`)
			}
			f.image = true
			return p.object(`"image"`, func(name string, at int) error {
				switch name {
				case "data":
					return p.stringMember(&f.data, name, at, true)
				case "key":
					return p.stringMember(&f.key, name, at, true)
				case "contentType":
					return p.stringMember(&f.ctype, name, at, true)
				case "name":
					return p.stringMember(&f.name, name, at, true)
				}
				return p.errAt(at, `unknown member %q in "image" (known: data, key, contentType, name)`, name)
			})
		}
		return p.errAt(at, "unknown member %q (known: type, image)", name)
	})
	if err != nil {
		return nil, err
	}
	if p.ws(); p.i < len(p.b) {
		return nil, p.errf("data after the JSON object")
	}
	return f, nil
}

// bodyParser is a strict reader of the little JSON an image SEND body holds:
// objects and strings (and null). It keeps strings in place.
type bodyParser struct {
	b []byte
	i int
}

// errf returns ErrBadJSON with the reason and the current offset.
func (p *bodyParser) errf(format string, args ...any) error {
	return p.errAt(p.i, format, args...)
}

// errAt returns ErrBadJSON with the reason and offset at.
func (p *bodyParser) errAt(at int, format string, args ...any) error {
	if at >= len(p.b) {
		return fmt.Errorf("%w: %s at the end of the body", ErrBadJSON, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%w: %s at byte %d", ErrBadJSON, fmt.Sprintf(format, args...), at)
}

func (p *bodyParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// eat consumes c if it is next.
func (p *bodyParser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads an object, calling member with each member name (unescaped)
// and its offset, and p at the value, which member must consume.
func (p *bodyParser) object(what string, member func(name string, at int) error) error {
	p.ws()
	if !p.eat('{') {
		return p.errf("%s must be a JSON object", what)
	}
	if p.ws(); p.eat('}') {
		return nil
	}
	for {
		p.ws()
		var name jsonString
		at := p.i
		if err := p.str(&name); err != nil {
			return err
		}
		if p.ws(); !p.eat(':') {
			return p.errf("expected ':'")
		}
		p.ws()
		if err := member(name.text(), at); err != nil {
			return err
		}
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return nil
		}
		return p.errf("expected ',' or '}' in %s", what)
	}
}

// stringMember reads the value of member name into s: a string, or null
// when nullable.
func (p *bodyParser) stringMember(s *jsonString, name string, at int, nullable bool) error {
	if s.seen {
		return p.errAt(at, "%q repeated", name)
	}
	s.seen = true
	if nullable && len(p.b)-p.i >= 4 && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return nil
	}
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.errf("%q must be a string", name)
	}
	return p.str(s)
}

// str reads a string, checking its escapes, into s.
func (p *bodyParser) str(s *jsonString) error {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return p.errf("expected a string")
	}
	start := p.i
	for i := start + 1; i < len(p.b); i++ {
		i += plainRun(p.b[i:])
		if i == len(p.b) {
			break
		}
		switch c := p.b[i]; {
		case c == '"':
			p.i = i + 1
			*s = jsonString{seen: true, present: true, esc: s.esc, q: p.b[start:p.i], at: start}
			return nil
		case c == '\\':
			s.esc = true
			if n := escapeLen(p.b[i:]); n > 0 {
				i += n - 1
				continue
			}
			p.i = i
			return p.errf("invalid escape in a string")
		case c < 0x20:
			p.i = i
			return p.errf("control character %q in a string", c)
		}
	}
	p.i = len(p.b)
	return p.errf("unterminated string")
}

// plainRun is the length of the prefix of b free of '"', '\\' and control
// characters, found 8 bytes at a time.
func plainRun(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		// A high bit here marks a byte below 0x20 or equal to '"' or '\\'
		// (exactly at the first such byte; there may be false marks after).
		if ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' {
			break
		}
	}
	return i
}

// escapeLen is the length of the valid JSON escape b starts with, or 0.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) >= 6 {
			if _, ok := hex4(b[2:6]); ok {
				return 6
			}
		}
	}
	return 0
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	var v rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | rune(c)
	}
	return v, true
}
