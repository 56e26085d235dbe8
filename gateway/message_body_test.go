package gateway

import (
	"bytes"
	"strings"
	"testing"
)

// textCases are bodies of both paths: canonical ones the fast path takes,
// and ones it must hand to the strict path (accepted or refused there).
var textCases = []struct {
	body string
	fast bool   // canonicalText takes it
	err  string // strict path's refusal, "" if accepted
}{
	{`{"type":"text","text":"hi"}`, true, ""},
	{`{"type":"text","text":"a \"quoted\" \\ word\n"}`, true, ""},
	{`{"type":"text","text":"é ✓ 😀"}`, true, ""},
	{`{"text":"hi","type":"text"}`, false, ""},               // other order: re-encoded
	{` {"type":"text","text":"hi"}`, false, ""},              // whitespace
	{`{"type":"text","text":"\u00e9"}`, false, ""},           // escape encoding/json does not write
	{`{"type":"text","text":"<b>"}`, false, ""},              // json.Marshal writes \u003c
	{`{"type":"text","TEXT":"hi"}`, false, ""},               // case-folded key
	{`{"type":"text","text":"a","text":"b"}`, false, ""},     // duplicate: the last wins
	{`{"type":"text","text":"hi","x":1}`, false, "bad JSON"}, // unknown field
	{`{"type":"text","text":"hi"} {}`, false, "bad JSON"},    // trailing data
	{`{"type":"text","text":"  "}`, false, "empty text"},
	{`{"type":"text","text":"` + strings.Repeat("x", DefaultMaxText+1) + `"}`, false, "text too long"},
}

func TestParseTextPaths(t *testing.T) {
	for _, c := range textCases {
		fast, ok := canonicalText([]byte(c.body), DefaultMaxText)
		if ok != c.fast {
			t.Errorf("%.60s: fast path took it %v, want %v", c.body, ok, c.fast)
		}
		_, strict, err := strictText([]byte(c.body), DefaultMaxText)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%.60s: strict path err %v, want %q", c.body, err, c.err)
		}
		if ok && !bytes.Equal(fast, strict) {
			t.Errorf("%.60s: fast path %s, strict path %s", c.body, fast, strict)
		}
	}
}

// FuzzCanonicalText: whatever the fast path accepts, the strict path
// accepts with the same bytes.
func FuzzCanonicalText(f *testing.F) {
	for _, c := range textCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := canonicalText(body, 64)
		if !ok {
			return
		}
		_, strict, err := strictText(body, 64)
		if err != nil || !bytes.Equal(fast, strict) {
			t.Fatalf("%q: fast path %s, strict path %s, %v", body, fast, strict, err)
		}
	})
}
