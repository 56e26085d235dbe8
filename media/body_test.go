package media

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/rcp/rcp/archiver/blob"
)

// sendBody is an image SEND body with data (already JSON-escaped, without
// quotes) and name.
func sendBody(data, ct, name string) []byte {
	return fmt.Appendf(nil, `{"type":"image","image":{"data":"%s","contentType":"%s","name":"%s"}}`, data, ct, name)
}

// jsonEscaped is s as it stands inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// wrap inserts sep every n characters, like Android's Base64.DEFAULT (76).
func wrap(s string, n int, sep string) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + sep)
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestParseImageSendData(t *testing.T) {
	img := encodePNG(t, 20, 20)
	odd := img[:len(img)-len(img)%3+1]
	std := base64.StdEncoding.EncodeToString(img)
	url := base64.URLEncoding.EncodeToString(img)
	if !strings.ContainsAny(std, "+/") || !strings.ContainsAny(url, "-_") || len(odd)%3 != 1 {
		t.Fatal("the test image does not exercise the alphabets")
	}
	pad := base64.StdEncoding.EncodeToString(odd) // ends in "=="
	for _, tc := range []struct {
		name, data, ct string
		want           []byte
		wantCT         string
	}{
		{"padded", pad, "image/png", odd, "image/png"},
		{"unpadded", base64.RawStdEncoding.EncodeToString(odd), "image/png", odd, "image/png"},
		{"wrapped with \\n every 76", jsonEscaped(wrap(std, 76, "\n")), "image/png", img, "image/png"},
		{"wrapped with \\r\\n every 64", jsonEscaped(wrap(pad, 64, "\r\n")), "", odd, ""},
		{"spaces and tabs", jsonEscaped(wrap(pad, 10, " \t ")), "", odd, ""},
		{"data URL", "data:image/png;base64," + std, "", img, "image/png"},
		{"data URL and contentType", "data:image/png;base64," + std, "image/jpeg", img, "image/jpeg"},
		{"data URL, escaped slash", `data:image\/png;base64,` + std, "", img, "image/png"},
		{"data URL with parameters", "data:image/png;name=a.png;base64," + pad, "", odd, "image/png"},
		{"URL-safe", url, "image/png", img, "image/png"},
		{"URL-safe unpadded", base64.RawURLEncoding.EncodeToString(odd), "", odd, ""},
		{"Gson escapes '='", strings.ReplaceAll(pad, "=", `\u003d`), "", odd, ""},
		{"escaped slashes", strings.ReplaceAll(std, "/", `\/`), "", img, ""},
		{"content type case and params", std, " Image/PNG; q=1", img, "image/png"},
		{"image/jpg", std, "image/jpg", img, "image/jpeg"},
		{"tiny", "QQ", "", []byte("A"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseImageSend(sendBody(tc.data, tc.ct, "a.png"), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Data, tc.want) || s.Key != "" || s.ContentType != tc.wantCT || s.Name != "a.png" {
				t.Errorf("got %d bytes, key %q, type %q, name %q; want %d bytes, type %q",
					len(s.Data), s.Key, s.ContentType, s.Name, len(tc.want), tc.wantCT)
			}
		})
	}
}

func TestParseImageSendForms(t *testing.T) {
	const key = "rooms/r1/ab/abcdef0123.png"
	for _, tc := range []struct {
		name, body string
		want       ImageSend
	}{
		{"key", `{"type":"image","image":{"key":"` + key + `","name":"a.png"}}`, ImageSend{Key: key, Name: "a.png"}},
		{"key only", `{"image":{"key":"` + key + `"},"type":"image"}`, ImageSend{Key: key}},
		{"nulls", `{"type":"image","image":{"data":null,"key":"` + key + `","contentType":null,"name":null}}`, ImageSend{Key: key}},
		{"whitespace", " \r\n{ \"type\" : \"image\" ,\t\"image\" : { \"data\" : \"QUJD\" } } \n", ImageSend{Data: []byte("ABC")}},
		{"escaped member names", `{"\u0074ype":"image","image":{"\u0064ata":"QUJD"}}`, ImageSend{Data: []byte("ABC")}},
		{"unicode name", `{"type":"image","image":{"data":"QUJD","name":"été 🌞 \u00e9.jpg"}}`, ImageSend{Data: []byte("ABC"), Name: "été 🌞 é.jpg"}},
		{"name of 255 bytes", `{"type":"image","image":{"data":"QUJD","name":"` + strings.Repeat("é", 127) + `a"}}`,
			ImageSend{Data: []byte("ABC"), Name: strings.Repeat("é", 127) + "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseImageSend([]byte(tc.body), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Data, tc.want.Data) || s.Key != tc.want.Key || s.ContentType != tc.want.ContentType ||
				s.Name != tc.want.Name || (s.Data == nil) != (tc.want.Data == nil) {
				t.Errorf("got %+v, want %+v", s, tc.want)
			}
		})
	}
}

func TestParseImageSendRefuses(t *testing.T) {
	data := func(d string) string { return string(sendBody(d, "image/png", "a.png")) }
	named := func(n string) string { return string(sendBody("QUJD", "", n)) }
	for _, tc := range []struct {
		name, body string
		lim        Limits
		want       error
		msg        string
	}{
		{"bad character", data("QUJD!UJD"), Limits{}, ErrBadBase64, `invalid character "!" at byte 37`},
		{"non-ASCII character", data("QUJDé"), Limits{}, ErrBadBase64, `"é" at byte 37`},
		{"escaped non-ASCII", data(`QUJD\u00e9`), Limits{}, ErrBadBase64, `"\\u00e9" at byte 37`},
		{"escaped quote", data(`QUJD\"`), Limits{}, ErrBadBase64, `at byte 37`},
		{"bad length", data("QUJDR"), Limits{}, ErrBadBase64, "5 base64 characters"},
		{"short padding", data("QQ="), Limits{}, ErrBadBase64, "padding"},
		{"needless padding", data("QUJD="), Limits{}, ErrBadBase64, "padding"},
		{"three '='", data("Q==="), Limits{}, ErrBadBase64, "more than two '='"},
		{"data after padding", data("QQ==QUJD"), Limits{}, ErrBadBase64, "after '=' at byte 37"},
		{"data URL not base64", data("data:image/png,QUJD"), Limits{}, ErrBadBase64, "not base64"},
		{"data URL with no comma", data("data:image/png;base64;QUJD"), Limits{}, ErrBadBase64, "no ','"},
		{"data URL of a pdf", `{"type":"image","image":{"data":"data:application/pdf;base64,QUJD"}}`, Limits{}, ErrNotImage, "application/pdf"},
		{"declared pdf", string(sendBody("QUJD", "application/pdf", "")), Limits{}, ErrNotImage, `"application/pdf"`},
		{"empty data", data(""), Limits{}, ErrEmpty, "zero bytes"},
		{"only whitespace", data(`\n\n`), Limits{}, ErrEmpty, "zero bytes"},
		{"over MaxBytes", data("QUJDREVG"), Limits{MaxBytes: 5}, ErrTooLarge, "6 bytes, more than 5"},
		{"unknown member", `{"type":"image","text":"hi","image":{"data":"QUJD"}}`, Limits{}, ErrBadJSON, `unknown member "text" (known: type, image) at byte 16`},
		{"unknown image member", `{"type":"image","image":{"data":"QUJD","size":3}}`, Limits{}, ErrBadJSON, `unknown member "size" in "image"`},
		{"member name case", `{"type":"image","image":{"Data":"QUJD"}}`, Limits{}, ErrBadJSON, `unknown member "Data"`},
		{"both data and key", `{"type":"image","image":{"data":"QUJD","key":"a/b.png"}}`, Limits{}, ErrBadJSON, "both"},
		{"neither", `{"type":"image","image":{"name":"a.png"}}`, Limits{}, ErrBadJSON, "neither"},
		{"repeated data", `{"type":"image","image":{"data":"QUJD","data":"QUJD"}}`, Limits{}, ErrBadJSON, `"data" repeated at byte 39`},
		{"repeated image", `{"type":"image","image":{"data":"QUJD"},"image":{}}`, Limits{}, ErrBadJSON, `"image" repeated`},
		{"trailing object", `{"type":"image","image":{"data":"QUJD"}} {}`, Limits{}, ErrBadJSON, "data after the JSON object at byte 41"},
		{"trailing garbage", `{"type":"image","image":{"data":"QUJD"}}x`, Limits{}, ErrBadJSON, "data after the JSON object"},
		{"not UTF-8", "{\"type\":\"image\",\"image\":{\"data\":\"QUJD\",\"name\":\"a\xff.png\"}}", Limits{}, ErrBadJSON, "not UTF-8 at byte 48"},
		{"not JSON", `type=image`, Limits{}, ErrBadJSON, "must be a JSON object"},
		{"empty body", ``, Limits{}, ErrBadJSON, "at the end of the body"},
		{"truncated", `{"type":"image","image":{"data":"QUJD`, Limits{}, ErrBadJSON, "unterminated string"},
		{"raw newline in a string", "{\"type\":\"image\",\"image\":{\"data\":\"QU\nJD\"}}", Limits{}, ErrBadJSON, "control character"},
		{"bad escape", `{"type":"image","image":{"data":"QU\xJD"}}`, Limits{}, ErrBadJSON, "invalid escape"},
		{"data not a string", `{"type":"image","image":{"data":3}}`, Limits{}, ErrBadJSON, `"data" must be a string`},
		{"image not an object", `{"type":"image","image":"QUJD"}`, Limits{}, ErrBadJSON, `"image" must be a JSON object`},
		{"image null", `{"type":"image","image":null}`, Limits{}, ErrBadJSON, `"image" must be a JSON object`},
		{"type text", `{"type":"text","image":{"data":"QUJD"}}`, Limits{}, ErrBadJSON, `"type" is "text"`},
		{"type null", `{"type":null,"image":{"data":"QUJD"}}`, Limits{}, ErrBadJSON, `"type" must be a string`},
		{"no type", `{"image":{"data":"QUJD"}}`, Limits{}, ErrBadJSON, `no "type"`},
		{"no image", `{"type":"image"}`, Limits{}, ErrBadJSON, `no "image"`},
		{"missing comma", `{"type":"image" "image":{"data":"QUJD"}}`, Limits{}, ErrBadJSON, "expected ',' or '}'"},
		{"trailing comma", `{"type":"image","image":{"data":"QUJD"},}`, Limits{}, ErrBadJSON, "expected a string"},
		{"key with ../", `{"type":"image","image":{"key":"rooms/r1/../../etc/passwd"}}`, Limits{}, ErrBadKey, `contains ".."`},
		{"empty key", `{"type":"image","image":{"key":""}}`, Limits{}, ErrBadKey, "empty"},
		{"name ../../etc/passwd", named("../../etc/passwd"), Limits{}, ErrBadName, "path traversal"},
		{"name a/b", named("a/b"), Limits{}, ErrBadName, "path traversal"},
		{`name a\b`, named(`a\\b`), Limits{}, ErrBadName, "path traversal"},
		{"name NUL", named(`\u0000`), Limits{}, ErrBadName, "control character U+0000"},
		{"name newline", named(`a\nb.png`), Limits{}, ErrBadName, "control character U+000A"},
		{"name DEL", named("a\x7f.png"), Limits{}, ErrBadName, "control character"},
		{"name C1", named(`a\u0085.png`), Limits{}, ErrBadName, "control character"},
		{"name .", named("."), Limits{}, ErrBadName, "path traversal"},
		{"name ..", named(".."), Limits{}, ErrBadName, "path traversal"},
		{"name 300 bytes", named(strings.Repeat("a", 296) + ".png"), Limits{}, ErrBadName, "300 bytes, more than 255"},
		{"name leading space", named(" a.png"), Limits{}, ErrBadName, "leading or trailing space"},
		{"name trailing space", named("a.png "), Limits{}, ErrBadName, "leading or trailing space"},
		{"name RLO", named(`photo\u202egnp.exe`), Limits{}, ErrBadName, "bidirectional control U+202E"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseImageSend([]byte(tc.body), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ParseImageSend = %+v, %v; want %v", s, err, tc.want)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if s.Data != nil || s.Key != "" {
				t.Errorf("result %+v with an error", s)
			}
			if tc.want == ErrBadKey && !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("%v is not blob.ErrBadKey", err)
			}
		})
	}
}

// allocated runs f and returns the bytes it allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestParseImageSendTooLargeWithoutDecoding(t *testing.T) {
	// 50 MiB of image in base64 (about 70 MB) against the 10 MiB default.
	huge := sendBody(strings.Repeat("QUJD", 50<<20/3+1), "image/png", "a.png")
	var err error
	if n := allocated(func() { _, err = ParseImageSend(huge, DefaultLimits()) }); n > 64<<10 {
		t.Errorf("refusing a %d-byte body allocated %d bytes", len(huge), n)
	}
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	// Just over the limit, so only counting the characters tells: it must
	// still refuse before allocating the decoded size.
	lim := Limits{MaxBytes: 1 << 20}
	just := sendBody(jsonEscaped(wrap(strings.Repeat("QUJD", 1<<20/3+1), 76, "\n")), "", "")
	if n := allocated(func() { _, err = ParseImageSend(just, lim) }); n > 64<<10 {
		t.Errorf("refusing a %d-byte body allocated %d bytes", len(just), n)
	}
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1048578 bytes, more than 1048576") {
		t.Fatalf("err = %v, want ErrTooLarge for 1048578 bytes", err)
	}
	if a := testing.AllocsPerRun(10, func() { _, err = ParseImageSend(just, lim) }); a > 16 {
		t.Errorf("%v allocations to refuse", a) // the parser and the error; none of the decoded size
	}
}

func TestParseImageSendAllocations(t *testing.T) {
	img := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 1<<20/7)
	body := sendBody(jsonEscaped(wrap(base64.StdEncoding.EncodeToString(img), 76, "\n")), "image/png", "a.png")
	var s ImageSend
	var err error
	n := allocated(func() { s, err = ParseImageSend(body, DefaultLimits()) })
	if err != nil || !bytes.Equal(s.Data, img) {
		t.Fatalf("err %v, %d bytes", err, len(s.Data))
	}
	if max := uint64(len(img)) + 8<<10; n > max {
		t.Errorf("decoding %d bytes allocated %d bytes, want at most %d", len(img), n, max)
	}
}

func BenchmarkParseImageSend1MiB(b *testing.B) {
	img := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz!"), 1<<20/37+1)[:1<<20]
	enc := base64.StdEncoding.EncodeToString(img)
	for _, bc := range []struct{ name, data string }{
		{"plain", enc},
		{"wrapped76", jsonEscaped(wrap(enc, 76, "\n"))},
		{"dataURL", "data:image/png;base64," + enc},
	} {
		body := sendBody(bc.data, "image/png", "a.png")
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if s, err := ParseImageSend(body, DefaultLimits()); err != nil || len(s.Data) != len(img) {
					b.Fatal(err)
				}
			}
		})
	}
}
