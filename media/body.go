package media

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rcp/rcp/archiver/blob"
)

// The errors of ParseImageSend besides those of Inspect (ErrEmpty,
// ErrTooLarge, ErrNotImage). Each is returned wrapped with a reason.
var (
	// ErrBadJSON: the body is not UTF-8, not JSON, or not the image SEND
	// form (unknown or repeated fields, wrong types, trailing data, not
	// exactly one of data and key).
	ErrBadJSON = errors.New("media: bad image message body")
	// ErrBadBase64: image.data is not base64; the reason gives the byte
	// offset in the body.
	ErrBadBase64 = errors.New("media: bad base64 image data")
	// ErrBadName: image.name is not an acceptable file name.
	ErrBadName = errors.New("media: bad image name")
	// ErrBadKey: image.key is not a syntactically valid blob key. It is
	// returned together with blob.ErrBadKey, so errors.Is matches either.
	ErrBadKey = errors.New("media: bad upload key")
)

// MaxNameLen is the longest image.name accepted, in bytes.
const MaxNameLen = 255

// ImageSend is the SEND body of an image message, checked for form but not
// for content: ParseImageSend does not look inside Data. The caller runs
// Inspect on Data (and on the bytes behind Key), as POST /v1/uploads does,
// so both paths share one check of the real type, size and dimensions.
type ImageSend struct {
	Data        []byte // decoded bytes (nil when Key is set)
	Key         string // reference to an upload (empty when Data is set)
	ContentType string // as declared by the client, canonical (may be empty)
	Name        string // validated, may be empty
}

// ParseImageSend reads the SEND body of an image message, in one of two
// forms:
//
//	{"type":"image","image":{"data":"<base64>","contentType":"image/png","name":"a.png"}}
//	{"type":"image","image":{"key":"rooms/r1/ab/abcdef.png","name":"a.png"}}
//
// The body must be UTF-8 JSON holding one object and nothing after it.
// Member names are matched exactly (case-sensitive); unknown and repeated
// members are refused. Exactly one of data and key must be a string; null
// counts as absent for data, key, contentType and name. "type" must be
// "image".
//
// data is base64 in the standard alphabet, padded (correctly) or unpadded.
// The URL-safe characters '-' and '_' are read as '+' and '/', so Android's
// Base64.URL_SAFE works too. Line breaks, spaces and tabs anywhere are
// ignored (Android's Base64.DEFAULT wraps lines), as are JSON escapes of any
// character (Gson writes '=' as \u003d). A data URL prefix such as
// "data:image/png;base64," is accepted; its media type serves as the
// declared content type when contentType is absent.
//
// contentType, when given (field or data URL), must be image/png,
// image/jpeg (image/jpg is taken as image/jpeg), image/gif or image/webp,
// in any case and with parameters ignored, or ErrNotImage; ContentType
// holds the canonical type. The bytes may still turn out to be another
// type: only Inspect decides. key must pass blob.ValidKey (ErrBadKey); it is
// not looked up. See checkName for name.
//
// Memory is bounded: a body longer than any data of lim.MaxBytes needs is
// refused at once, and the exact decoded size is counted, without
// allocating, before the one allocation of Data; the base64 text is never
// copied. The error wraps ErrBadJSON, ErrBadName, ErrNotImage, ErrBadKey,
// ErrBadBase64, ErrTooLarge or ErrEmpty.
func ParseImageSend(body []byte, lim Limits) (ImageSend, error) {
	lim = lim.orDefault()
	if max := maxBodyLen(lim.MaxBytes); int64(len(body)) > max {
		return ImageSend{}, fmt.Errorf("%w: a body of %d bytes, more than the %d that %d bytes of base64 can need",
			ErrTooLarge, len(body), max, lim.MaxBytes)
	}
	if !utf8.Valid(body) {
		return ImageSend{}, fmt.Errorf("%w: not UTF-8 at byte %d", ErrBadJSON, firstInvalidUTF8(body))
	}
	f, err := parseFields(body)
	if err != nil {
		return ImageSend{}, err
	}
	return f.build(lim)
}

// maxBodyLen is the longest body worth parsing for a limit of max decoded
// bytes: twice the base64 length, for line breaks and escapes, plus room
// for the other fields.
func maxBodyLen(max int64) int64 {
	if max > math.MaxInt64/4 {
		return math.MaxInt64
	}
	return 2*((max+2)/3*4) + 64<<10
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// build checks the fields and decodes data.
func (f *sendFields) build(lim Limits) (ImageSend, error) {
	if err := f.checkShape(); err != nil {
		return ImageSend{}, err
	}
	var s ImageSend
	var err error
	if s.Name, err = checkName(f.name.text()); err != nil {
		return ImageSend{}, err
	}
	if s.ContentType, err = checkType(f.ctype.text()); err != nil {
		return ImageSend{}, err
	}
	if f.key.present {
		s.Key = f.key.text()
		if err := blob.ValidKey(s.Key); err != nil {
			return ImageSend{}, fmt.Errorf("%w: %w", ErrBadKey, err)
		}
		return s, nil
	}
	raw, at := f.data.raw(), f.data.at+1
	raw, at, urlType, err := cutDataURL(raw, at)
	if err != nil {
		return ImageSend{}, err
	}
	if s.ContentType == "" {
		if s.ContentType, err = checkType(urlType); err != nil {
			return ImageSend{}, err
		}
	}
	if s.Data, err = decodeBase64(raw, at, lim.MaxBytes); err != nil {
		return ImageSend{}, err
	}
	return s, nil
}

// checkShape checks type and that exactly one of data and key is given.
func (f *sendFields) checkShape() error {
	switch {
	case !f.typ.present:
		return fmt.Errorf(`%w: no "type"`, ErrBadJSON)
	case f.typ.text() != "image":
		return fmt.Errorf(`%w: "type" is %q, not "image"`, ErrBadJSON, f.typ.text())
	case !f.image:
		return fmt.Errorf(`%w: no "image" object`, ErrBadJSON)
	case f.data.present && f.key.present:
		return fmt.Errorf(`%w: "image" has both "data" and "key"; give exactly one`, ErrBadJSON)
	case !f.data.present && !f.key.present:
		return fmt.Errorf(`%w: "image" has neither "data" nor "key"; give exactly one`, ErrBadJSON)
	}
	return nil
}

// checkName accepts an empty name, or one of at most MaxNameLen bytes of
// UTF-8 that is a plain file name: no '/' or '\\' (no path traversal), not
// "." or "..", no control characters (NUL included), no bidirectional
// embedding, override or isolate characters (they can disguise the
// extension: "gnp.exe" shown as "exe.png"), and no leading or trailing space.
func checkName(name string) (string, error) {
	switch {
	case name == "":
		return "", nil
	case len(name) > MaxNameLen:
		return "", fmt.Errorf("%w: %d bytes, more than %d", ErrBadName, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: not UTF-8", ErrBadName)
	case name == "." || name == "..":
		return "", fmt.Errorf("%w: %q is a directory, not a file name (path traversal)", ErrBadName, name)
	}
	for i, r := range name {
		switch {
		case r == '/' || r == '\\':
			return "", fmt.Errorf("%w: %q contains %q: a name is not a path (path traversal)", ErrBadName, name, r)
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: %q has the control character %U at byte %d", ErrBadName, name, r, i)
		case r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069:
			return "", fmt.Errorf("%w: %q has the bidirectional control %U at byte %d", ErrBadName, name, r, i)
		}
	}
	first, _ := utf8.DecodeRuneInString(name)
	last, _ := utf8.DecodeLastRuneInString(name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "", fmt.Errorf("%w: %q has a leading or trailing space", ErrBadName, name)
	}
	return name, nil
}

// checkType returns the canonical form of a declared content type, "" for
// "", or ErrNotImage.
func checkType(ct string) (string, error) {
	if ct == "" {
		return "", nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	if canon, ok := imageTypes[strings.ToLower(strings.TrimSpace(mt))]; ok {
		return canon, nil
	}
	return "", fmt.Errorf("%w: declared content type %q; only image/png, image/jpeg, image/gif and image/webp are accepted",
		ErrNotImage, ct)
}

// cutDataURL removes a "data:[<mediatype>][;param]*;base64," prefix from
// raw (the data string as it stands in the body, at offset at) and returns
// the rest, its offset and the media type.
func cutDataURL(raw []byte, at int) (rest []byte, restAt int, mediaType string, err error) {
	if len(raw) < 5 || !strings.EqualFold(string(raw[:5]), "data:") {
		return raw, at, "", nil
	}
	comma := -1
	for i := 0; i < len(raw) && i < 512; i++ {
		if raw[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 {
		return nil, 0, "", fmt.Errorf("%w: a data URL with no ',' in its first 512 bytes, at byte %d", ErrBadBase64, at)
	}
	var header string
	if err := json.Unmarshal([]byte(`"`+string(raw[5:comma])+`"`), &header); err != nil {
		return nil, 0, "", fmt.Errorf("%w: data URL at byte %d: %v", ErrBadJSON, at, err)
	}
	params := strings.Split(header, ";")
	if len(params) < 2 || !strings.EqualFold(strings.TrimSpace(params[len(params)-1]), "base64") {
		return nil, 0, "", fmt.Errorf("%w: the data URL %q is not base64 (no \";base64\")", ErrBadBase64, "data:"+header+",")
	}
	return raw[comma+1:], at + comma + 1, strings.TrimSpace(params[0]), nil
}

// decodeBase64 decodes raw, base64 text with its JSON escapes still in (see
// ParseImageSend), at offset at in the body, into one new slice of the
// decoded size. The common plain text is decoded in one pass; anything else
// is counted first, without allocating, then decoded through a small buffer.
func decodeBase64(raw []byte, at int, max int64) ([]byte, error) {
	out, ok := decodePlain(raw, max)
	if ok {
		return out, nil
	}
	size, err := countBase64(raw, at, max)
	if err != nil {
		return nil, err
	}
	if int64(cap(out)) >= size {
		out = out[:size] // the failed attempt's buffer is big enough
	} else {
		out = make([]byte, size)
	}
	var buf [4096]byte
	t := b64Text{raw: raw, at: at}
	w := 0
	for {
		k, _ := t.fill(buf[:]) // no error: countBase64 saw the same text
		m, err := base64.RawStdEncoding.Decode(out[w:], buf[:k])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadBase64, err)
		}
		w += m
		if k < len(buf) {
			return out[:w], nil
		}
	}
}

// decodePlain decodes raw if it is plain standard base64, with no
// whitespace, escapes or URL-safe characters, of at most max bytes. It does
// not try when the first 4 KiB are not plain (wrapped or URL-safe text
// shows it there). When it tries and fails, it returns the buffer, of at
// least the decoded size.
func decodePlain(raw []byte, max int64) (out []byte, ok bool) {
	trim := bytes.TrimSuffix(bytes.TrimSuffix(raw, []byte("=")), []byte("="))
	for _, c := range trim[:min(len(trim), 4096)] {
		if b64Class[c] != c {
			return nil, false
		}
	}
	size, err := decodedLen(len(trim), len(raw)-len(trim))
	if err != nil || size == 0 || size > max {
		return nil, false
	}
	out = make([]byte, size)
	if _, err := base64.RawStdEncoding.Decode(out, trim); err != nil {
		return out, false
	}
	return out, true
}

// countBase64 returns the decoded size of raw (see decodeBase64) or why it
// is not acceptable base64 of 1 to max bytes.
func countBase64(raw []byte, at int, max int64) (int64, error) {
	var buf [4096]byte
	t := b64Text{raw: raw, at: at}
	n := 0
	for {
		k, err := t.fill(buf[:])
		if err != nil {
			return 0, err
		}
		n += k
		if k < len(buf) {
			break
		}
	}
	size, err := decodedLen(n, t.pad)
	switch {
	case err != nil:
		return 0, err
	case size > max:
		return 0, fmt.Errorf("%w: data decodes to %d bytes, more than %d", ErrTooLarge, size, max)
	case size == 0:
		return 0, fmt.Errorf("%w: data decodes to zero bytes", ErrEmpty)
	}
	return size, nil
}

// decodedLen is the number of bytes that n base64 characters followed by
// pad '=' decode to, or ErrBadBase64 when that is not a valid length.
func decodedLen(n, pad int) (int64, error) {
	switch {
	case n%4 == 1:
		return 0, fmt.Errorf("%w: %d base64 characters, one too many or one missing", ErrBadBase64, n)
	case pad > 0 && n%4+pad != 4:
		return 0, fmt.Errorf("%w: %d '=' after %d base64 characters; padding must complete a group of 4",
			ErrBadBase64, pad, n)
	}
	return int64(n/4*3 + [4]int{0, 0, 1, 2}[n%4]), nil
}

// b64Text walks base64 text as it stands in a JSON string (escapes still
// in) and yields its characters in the standard alphabet, without
// whitespace or padding.
type b64Text struct {
	raw []byte
	at  int // offset of raw[0] in the body, for errors
	i   int // next byte of raw
	pad int // '=' seen so far
}

// Markers in b64Class; every base64 character is above them.
const (
	b64Invalid = iota
	b64Space
	b64Pad
	b64Escape
)

// b64Class maps a byte to its standard base64 character or a marker.
var b64Class = func() (t [256]byte) {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = std[i]
	}
	t['-'], t['_'] = '+', '/'
	t[' '], t['\t'], t['\n'], t['\r'] = b64Space, b64Space, b64Space, b64Space
	t['='], t['\\'] = b64Pad, b64Escape
	return t
}()

// fill puts the next characters into dst and returns how many; fewer than
// len(dst) means the text is exhausted.
func (t *b64Text) fill(dst []byte) (int, error) {
	raw, i, n := t.raw, t.i, 0
	for i < len(raw) && n < len(dst) {
		j, end := i, min(len(raw), i+len(dst)-n)
		for j < end && b64Class[raw[j]] == raw[j] { // a run of the standard alphabet
			j++
		}
		if j > i && t.pad == 0 {
			n += copy(dst[n:], raw[i:j])
			i = j
			continue
		}
		if k := b64Class[raw[i]]; k > b64Escape && t.pad == 0 {
			dst[n] = k
			n++
			i++
			continue
		}
		t.i = i
		k, err := t.slow()
		if err != nil {
			return n, err
		}
		if k != 0 {
			dst[n] = k
			n++
		}
		i = t.i
	}
	t.i = i
	return n, nil
}

// slow reads the character at t.i that fill's fast path does not take:
// whitespace, padding, an escape, anything after padding, or a bad byte.
// It returns the base64 character, or 0 for one to skip.
func (t *b64Text) slow() (byte, error) {
	start, c := t.i, t.raw[t.i]
	t.i++
	k := b64Class[c]
	if k == b64Escape {
		c, t.i = unescapeASCII(t.raw, t.i)
		if k = b64Class[c]; k == b64Escape {
			k = b64Invalid // an escaped backslash
		}
	}
	switch {
	case k == b64Space:
		return 0, nil
	case k == b64Pad:
		if t.pad++; t.pad > 2 {
			return 0, fmt.Errorf("%w: more than two '=' at byte %d", ErrBadBase64, t.at+start)
		}
		return 0, nil
	case k == b64Invalid:
		return 0, t.badChar(start)
	case t.pad > 0:
		return 0, fmt.Errorf("%w: %q after '=' at byte %d", ErrBadBase64, c, t.at+start)
	}
	return k, nil
}

func (t *b64Text) badChar(start int) error {
	shown := string(t.raw[start:t.i]) // an escape as written
	if t.raw[start] != '\\' {
		r, _ := utf8.DecodeRune(t.raw[start:])
		shown = string(r)
	}
	return fmt.Errorf("%w: invalid character %q at byte %d", ErrBadBase64, shown, t.at+start)
}

// unescapeASCII decodes the JSON escape whose backslash is at raw[i-1] and
// returns the byte it stands for (0, which is not base64, for one above
// 0x7f) and the index after it. p.str has checked the escape.
func unescapeASCII(raw []byte, i int) (byte, int) {
	switch {
	case i >= len(raw):
		return 0, i
	case raw[i] != 'u':
		return jsonEscapes[raw[i]], i + 1
	case i+5 > len(raw):
		return 0, len(raw)
	}
	if v, ok := hex4(raw[i+1 : i+5]); ok && v <= 0x7f {
		return byte(v), i + 5
	}
	return 0, i + 5
}

// jsonEscapes maps the letter of a one-letter escape to its byte.
var jsonEscapes = [256]byte{'n': '\n', 'r': '\r', 't': '\t', 'b': '\b', 'f': '\f', '"': '"', '\\': '\\', '/': '/'}
