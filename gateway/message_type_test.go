package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMessageType(t *testing.T) {
	cases := []struct {
		body string
		typ  string
		ok   bool
	}{
		{`{"type":"text","text":"hi"}`, "text", true},
		{` { "type" : "image" , "image":{}}`, "image", true},
		{`{"image":{"data":"AAAA","name":"a\"}b"},"type":"image"}`, "image", true},
		{`{"a":[1,{"b":"]}"},[]],"n":-1.5e3,"t":true,"z":null,"type":"text"}`, "text", true},
		{`{"k\\":"v","type":"x"}`, "x", true},
		{`{"ty\"pe":"no","type":"yes"}`, "yes", true},
		{`{"text":"no type"}`, "", false},
		{`{"type":1}`, "", false},
		{`{"type":"te\u0078t"}`, "", false}, // escaped: encoding/json decides
		{`["type","text"]`, "", false},
		{`{"type"`, "", false},
		{`{"a":"unterminated`, "", false},
		{``, "", false},
	}
	for _, c := range cases {
		typ, ok := messageType([]byte(c.body))
		if typ != c.typ || ok != c.ok {
			t.Errorf("messageType(%s) = %q, %v; want %q, %v", c.body, typ, ok, c.typ, c.ok)
		}
		var probe struct{ Type any }
		if ok && json.Unmarshal([]byte(c.body), &probe) == nil && probe.Type != typ {
			t.Errorf("%s: encoding/json reads type %v, messageType %q", c.body, probe.Type, typ)
		}
	}
}

// FuzzMessageType: whenever the skim finds a type in valid UTF-8 JSON (what
// ParseMessageBody lets through) without repeated keys, encoding/json finds
// the same.
func FuzzMessageType(f *testing.F) {
	for _, s := range []string{`{"type":"text","text":"hi"}`, `{"image":{"data":"A\"A"},"type":"image"}`, `{"a":[{"b":"}"}],"type":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, ok := messageType(body)
		var m map[string]json.RawMessage
		if !ok || !utf8.Valid(body) || json.Unmarshal(body, &m) != nil || strings.Count(string(body), `"type"`) != 1 {
			return
		}
		var got string
		if json.Unmarshal(m["type"], &got) == nil && got != typ {
			t.Fatalf("%q: skim %q, encoding/json %q", body, typ, got)
		}
	})
}

func BenchmarkMessageTypeImage1MiB(b *testing.B) {
	body := []byte(`{"type":"image","image":{"data":"` + strings.Repeat("QUJD", 1<<18*4/3) + `","contentType":"image/png"}}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := ParseMessageBody(body, DefaultMaxText); err != ErrImageBody {
			b.Fatal(err)
		}
	}
}
