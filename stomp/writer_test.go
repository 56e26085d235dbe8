package stomp_test

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/rcp/rcp/stomp"
)

var codecVersions = []stomp.Version{stomp.V10, stomp.V11, stomp.V12}

func TestAppendFrameBytes(t *testing.T) {
	tests := []struct {
		name  string
		v     stomp.Version
		frame *stomp.Frame
		want  string
	}{
		{"adds content-length", stomp.V12,
			stomp.NewFrame("SEND", []byte("hi"), "destination", "/a"),
			"SEND\ndestination:/a\ncontent-length:2\n\nhi\x00"},
		{"no content-length for an empty body", stomp.V12,
			stomp.NewFrame("RECEIPT", nil, "receipt-id", "7"),
			"RECEIPT\nreceipt-id:7\n\n\x00"},
		{"content-length is corrected in place", stomp.V12,
			stomp.NewFrame("SEND", []byte("abc"), "a", "1", "content-length", "99", "b", "2"),
			"SEND\na:1\ncontent-length:3\nb:2\n\nabc\x00"},
		{"repeated content-length dropped", stomp.V12,
			stomp.NewFrame("SEND", []byte("abc"), "content-length", "3", "content-length", "1"),
			"SEND\ncontent-length:3\n\nabc\x00"},
		{"explicit content-length of an empty body", stomp.V12,
			stomp.NewFrame("SEND", nil, "content-length", "5"),
			"SEND\ncontent-length:0\n\n\x00"},
		{"body with NULs", stomp.V12,
			stomp.NewFrame("MESSAGE", []byte("\x00a\x00")),
			"MESSAGE\ncontent-length:3\n\n\x00a\x00\x00"},
		{"1.2 escapes", stomp.V12,
			stomp.NewFrame("MESSAGE", nil, "a:b\\", "x\ny\rz:\\"),
			"MESSAGE\na\\cb\\\\:x\\ny\\rz\\c\\\\\n\n\x00"},
		{"1.1 escapes, CR becomes a space", stomp.V11,
			stomp.NewFrame("MESSAGE", nil, "a:b\\", "x\ny\rz:\\"),
			"MESSAGE\na\\cb\\\\:x\\ny z\\c\\\\\n\n\x00"},
		{"1.0 sanitizes CR and LF only", stomp.V10,
			stomp.NewFrame("MESSAGE", nil, "k\r\n", "x\ny\rz:\\"),
			"MESSAGE\nk  :x y z:\\\n\n\x00"},
		{"1.2 CONNECTED is not escaped", stomp.V12,
			stomp.NewFrame("CONNECTED", nil, "user-name", "bob\nadmin:yes\\"),
			"CONNECTED\nuser-name:bob admin:yes\\\n\n\x00"},
		{"1.2 CONNECT is not escaped", stomp.V12,
			stomp.NewFrame("CONNECT", nil, "passcode", "a:b\\c\r\n"),
			"CONNECT\npasscode:a:b\\c  \n\n\x00"},
		{"1.2 ERROR is escaped", stomp.V12,
			stomp.NewFrame("ERROR", []byte("x"), "message", "bad: \"k\"\n"),
			"ERROR\nmessage:bad\\c \"k\"\\n\ncontent-length:1\n\nx\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(stomp.AppendFrame(nil, tc.frame, tc.v))
			if got != tc.want {
				t.Fatalf("AppendFrame\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAppendFrameAppends(t *testing.T) {
	dst := []byte("\nprefix")
	got := stomp.AppendFrame(dst, stomp.NewFrame("ACK", nil, "id", "1"), stomp.V12)
	if want := "\nprefixACK\nid:1\n\n\x00"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// codecWritten is what a frame must read back as after AppendFrame: the
// first content-length header set to the body's length, later ones dropped,
// one added when the body is not empty.
func codecWritten(f *stomp.Frame) *stomp.Frame {
	out := &stomp.Frame{Command: f.Command, Body: f.Body}
	seen := false
	for _, h := range f.Header {
		if h.Key == "content-length" {
			if seen {
				continue
			}
			seen = true
			h.Value = strconv.Itoa(len(f.Body))
		}
		out.Header = append(out.Header, h)
	}
	if !seen && len(f.Body) > 0 {
		out.Header = append(out.Header, stomp.HeaderField{Key: "content-length", Value: strconv.Itoa(len(f.Body))})
	}
	return out
}

// codecRoundTrip encodes f for v and decodes it with a reader set to v.
func codecRoundTrip(t *testing.T, f *stomp.Frame, v stomp.Version) *stomp.Frame {
	t.Helper()
	wire := stomp.AppendFrame(nil, f, v)
	r := stomp.NewReader(bytes.NewReader(wire), stomp.DefaultLimits())
	r.Version = v
	got, err := r.ReadFrame()
	if err != nil {
		t.Fatalf("reading back %q (%s): %v", wire, v, err)
	}
	if _, err := r.ReadFrame(); err != io.EOF {
		t.Fatalf("after the frame %q (%s): err %v, want io.EOF", wire, v, err)
	}
	return got
}

func TestAppendFrameRoundTrip(t *testing.T) {
	all := codecVersions
	tests := []struct {
		name     string
		frame    *stomp.Frame
		versions []stomp.Version
	}{
		{"SEND json", stomp.NewFrame("SEND", []byte(`{"type":"text","text":"hi ✓"}`),
			"destination", "/app/rooms/42", "content-type", "application/json", "x-client-id", "c-1", "receipt", "9"), all},
		{"MESSAGE binary body", stomp.NewFrame("MESSAGE", []byte("\x00\xff\n\r\x00"),
			"subscription", "0", "message-id", "1-0.1", "ack", "1-0.1"), all},
		{"empty body", stomp.NewFrame("DISCONNECT", nil, "receipt", "bye"), all},
		{"no headers", stomp.NewFrame("BEGIN", nil), all},
		{"colon and backslash in values", stomp.NewFrame("SEND", nil, "k", `a:b\c\\`, "empty", ""), all},
		{"NUL in a header", stomp.NewFrame("SEND", nil, "k", "a\x00b"), all},
		{"escaped key", stomp.NewFrame("MESSAGE", nil, `a:b\`, "v"), []stomp.Version{stomp.V11, stomp.V12}},
		{"LF in value", stomp.NewFrame("MESSAGE", nil, "k", "line1\nline2\n"), []stomp.Version{stomp.V11, stomp.V12}},
		{"CR in value", stomp.NewFrame("MESSAGE", nil, "k", "a\rb\r", "k2", "\r\n"), []stomp.Version{stomp.V12}},
		{"repeated headers", stomp.NewFrame("SEND", []byte("x"), "k", "1", "k", "2"), all},
		{"explicit content-length", stomp.NewFrame("SEND", []byte("abc"), "content-length", "3"), all},
		{"CONNECT raw backslashes", stomp.NewFrame("CONNECT", nil,
			"accept-version", "1.0,1.1,1.2", "login", `dom\user`, "passcode", `p\c:w\n`), all},
		{"CONNECTED raw backslashes", stomp.NewFrame("CONNECTED", nil, "version", "1.2", "server", `rcp\0.1`), all},
	}
	for _, tc := range tests {
		for _, v := range tc.versions {
			t.Run(tc.name+"/"+v.String(), func(t *testing.T) {
				codecAssertFrame(t, codecRoundTrip(t, tc.frame, v), codecWritten(tc.frame))
			})
		}
	}
}

// Values the writer cannot carry in a version are made safe, never able to
// end a header line early: the frame reads back with exactly its headers.
func TestAppendFrameSanitizes(t *testing.T) {
	tests := []struct {
		v         stomp.Version
		cmd       string
		value     string
		readsBack string
	}{
		{stomp.V10, "MESSAGE", "bob\ninjected:yes", "bob injected:yes"},
		{stomp.V10, "MESSAGE", "a\r\n\r\nbody", "a    body"},
		{stomp.V11, "MESSAGE", "a\rb\r", "a b "},
		{stomp.V11, "MESSAGE", "a\r\n\r\nb", "a \n \nb"},
		{stomp.V12, "CONNECTED", "bob\r\nsession:evil", "bob  session:evil"},
		{stomp.V11, "CONNECT", "x\n\ny", "x  y"},
	}
	for _, tc := range tests {
		t.Run(tc.v.String()+" "+tc.cmd+" "+strconv.Quote(tc.value), func(t *testing.T) {
			f := stomp.NewFrame(tc.cmd, []byte("b"), "user-name", tc.value, "k", "v")
			got := codecRoundTrip(t, f, tc.v)
			want := codecWritten(stomp.NewFrame(tc.cmd, []byte("b"), "user-name", tc.readsBack, "k", "v"))
			codecAssertFrame(t, got, want)
		})
	}
}

// Whatever the reader accepts, the writer reproduces: a frame read in one
// version and written in the same version reads back identically.
func TestReadWriteReadIdentity(t *testing.T) {
	tests := []struct {
		v  stomp.Version
		in string
	}{
		{stomp.V12, "MESSAGE\r\nk\\c\\\\:\\r\\n\\c\r\ncontent-length:2\ncontent-length:x\n\n\x00\x00\x00"},
		{stomp.V11, "MESSAGE\nk\\c:\\n\\\\\nk:second\n\nbody\x00"},
		{stomp.V10, "SEND\nk\\c:a:\\n\\t\n\n\x00"},
		{stomp.V12, "CONNECT\nlogin:a\\t:b\n\n\x00"},
	}
	for _, tc := range tests {
		r := stomp.NewReader(bytes.NewReader([]byte(tc.in)), stomp.DefaultLimits())
		r.Version = tc.v
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatalf("%q (%s): %v", tc.in, tc.v, err)
		}
		codecAssertFrame(t, codecRoundTrip(t, f, tc.v), codecWritten(f))
	}
}
