package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Errors of message bodies; each becomes an ERROR frame naming it.
var (
	ErrBadJSON         = errors.New("bad JSON")
	ErrUnsupportedType = errors.New("unsupported message type")
	ErrTextTooLong     = errors.New("text too long")
	ErrEmptyText       = errors.New("empty text")
	// ErrImageBody: the body is an image message, which the media service
	// parses (STOMPHandler.messageBody); ParseMessageBody returns it with
	// typ "image" and no canonical body.
	ErrImageBody = errors.New("image message body")
)

// DefaultMaxText is the longest text message in bytes.
const DefaultMaxText = 16 << 10

// textBody is the body of a text message, as clients send it and as it is
// stored and delivered.
type textBody struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// ParseMessageBody validates a SEND body and returns its type and the
// canonical JSON to store: `{"type":"text","text":"…"}`. Unknown fields,
// trailing data, invalid UTF-8 and texts over maxText bytes are refused.
func ParseMessageBody(body []byte, maxText int) (typ string, canonical []byte, err error) {
	if !utf8.Valid(body) {
		return "", nil, fmt.Errorf("%w: body is not UTF-8", ErrBadJSON)
	}
	typ, ok := messageType(body)
	if !ok { // let encoding/json say what is wrong
		var probe struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &probe); err != nil {
			return "", nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
		}
		typ = probe.Type
	}
	switch typ {
	case "text":
		return parseText(body, maxText)
	case "":
		return "", nil, fmt.Errorf("%w: missing \"type\"", ErrBadJSON)
	case "image":
		return "image", nil, ErrImageBody
	}
	return "", nil, fmt.Errorf("%w: %.40q", ErrUnsupportedType, typ)
}

func parseText(body []byte, maxText int) (string, []byte, error) {
	if out, ok := canonicalText(body, maxText); ok {
		return "text", out, nil
	}
	return strictText(body, maxText)
}

// strictText decodes a text body with unknown fields and trailing data
// refused, checks it and re-encodes it.
func strictText(body []byte, maxText int) (string, []byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var t textBody
	if err := dec.Decode(&t); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrBadJSON, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", nil, fmt.Errorf("%w: data after the JSON object", ErrBadJSON)
	}
	if strings.TrimSpace(t.Text) == "" {
		return "", nil, ErrEmptyText
	}
	if len(t.Text) > maxText {
		return "", nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTextTooLong, len(t.Text), maxText)
	}
	out, err := json.Marshal(t)
	if err != nil {
		return "", nil, fmt.Errorf("encode text body: %w", err)
	}
	return "text", out, nil
}

// canonicalText is parseText's fast path for the body clients normally
// send: already canonical. It accepts only a body that json.Marshal of its
// decoding reproduces byte for byte, which has exactly the keys "type" and
// "text", in that order, and nothing after the object: the strict path would
// accept it and return the same bytes. Anything else (other keys, case,
// whitespace, escapes, duplicates, refusals) goes to the strict path.
func canonicalText(body []byte, maxText int) ([]byte, bool) {
	var t textBody
	if json.Unmarshal(body, &t) != nil || strings.TrimSpace(t.Text) == "" || len(t.Text) > maxText {
		return nil, false
	}
	out, err := json.Marshal(t)
	if err != nil || !bytes.Equal(out, body) {
		return nil, false
	}
	return out, true
}
