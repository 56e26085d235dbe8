package stomp_test

// Codec tests for stomp.Reader: one table per rule of the frame grammar, each
// row asserting the exact frame or the exact sentinel (errors.Is).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/rcp/rcp/stomp"
)

// codecLimits are small so every limit is cheap to reach.
var codecLimits = stomp.Limits{MaxFrameSize: 1024, MaxHeaders: 4, MaxHeaderLen: 64, MaxBodySize: 256}

// codecReadAll decodes every frame of in and returns them with the error
// that ended the stream (io.EOF after a clean end). Input arrives one byte
// per Read, so no rule depends on a read returning a whole line.
func codecReadAll(in string, v stomp.Version, lim stomp.Limits) ([]*stomp.Frame, error) {
	r := stomp.NewReader(iotest.OneByteReader(strings.NewReader(in)), lim)
	r.Version = v
	var frames []*stomp.Frame
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
	}
}

// codecReadOne decodes exactly one frame followed by a clean end of stream.
func codecReadOne(t *testing.T, in string, v stomp.Version, lim stomp.Limits) *stomp.Frame {
	t.Helper()
	frames, err := codecReadAll(in, v, lim)
	if !errors.Is(err, io.EOF) || len(frames) != 1 {
		t.Fatalf("read %q: got %d frames, err %v; want 1 frame then io.EOF", in, len(frames), err)
	}
	return frames[0]
}

// codecEqual compares frames; a nil and an empty body are the same body.
func codecEqual(a, b *stomp.Frame) bool {
	if a.Command != b.Command || !bytes.Equal(a.Body, b.Body) || len(a.Header) != len(b.Header) {
		return false
	}
	for i := range a.Header {
		if a.Header[i] != b.Header[i] {
			return false
		}
	}
	return true
}

func codecFrame(cmd, body string, kv ...string) *stomp.Frame {
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	f := stomp.NewFrame(cmd, b, kv...)
	if len(f.Header) == 0 {
		f.Header = nil
	}
	return f
}

func codecAssertFrame(t *testing.T, got, want *stomp.Frame) {
	t.Helper()
	if !codecEqual(got, want) {
		t.Fatalf("frame\n got %s %q %q\nwant %s %q %q", got.Command, got.Header, got.Body,
			want.Command, want.Header, want.Body)
	}
}

var codecAllCommands = []string{
	stomp.CmdConnect, stomp.CmdStomp, stomp.CmdSend, stomp.CmdSubscribe, stomp.CmdUnsubscribe,
	stomp.CmdAck, stomp.CmdNack, stomp.CmdBegin, stomp.CmdCommit, stomp.CmdAbort,
	stomp.CmdDisconnect, stomp.CmdConnected, stomp.CmdMessage, stomp.CmdReceipt, stomp.CmdError,
}

func TestReadFrameCommands(t *testing.T) {
	for _, cmd := range codecAllCommands {
		t.Run(cmd, func(t *testing.T) {
			got := codecReadOne(t, cmd+"\nk:v\n\n\x00", stomp.V12, codecLimits)
			codecAssertFrame(t, got, codecFrame(cmd, "", "k", "v"))
		})
	}
	for _, line := range []string{"send", "SEND ", " SEND", "SENDX", "FOO", "\x00", "CONNECT\r\r"} {
		t.Run("refuses "+line, func(t *testing.T) {
			_, err := codecReadAll(line+"\n\n\x00", stomp.V12, codecLimits)
			if !errors.Is(err, stomp.ErrBadCommand) {
				t.Fatalf("err = %v, want ErrBadCommand", err)
			}
		})
	}
}

func TestReadFrameHeaderEscapes(t *testing.T) {
	tests := []struct {
		name    string
		v       stomp.Version
		cmd     string
		line    string // one raw header line
		key     string
		value   string
		wantErr error
	}{
		{"1.2 all escapes", stomp.V12, "SEND", `a\cb\\:x\ny\rz\c\\`, `a:b\`, "x\ny\rz:\\", nil},
		{"1.2 colon in value kept", stomp.V12, "SEND", "k:a:b", "k", "a:b", nil},
		{"1.2 spaces kept", stomp.V12, "SEND", "k : v ", "k ", " v ", nil},
		{"1.2 empty value", stomp.V12, "SEND", "k:", "k", "", nil},
		{"1.2 undefined escape", stomp.V12, "SEND", `k:a\tb`, "", "", stomp.ErrBadEscape},
		{"1.2 undefined escape in key", stomp.V12, "SEND", `\x:v`, "", "", stomp.ErrBadEscape},
		{"1.2 trailing backslash", stomp.V12, "SEND", `k:v\`, "", "", stomp.ErrBadEscape},
		{"1.1 escapes", stomp.V11, "MESSAGE", `k\c:a\nb\cc\\d`, "k:", "a\nb:c\\d", nil},
		{"1.1 has no \\r", stomp.V11, "SEND", `k:a\rb`, "", "", stomp.ErrBadEscape},
		{"1.0 no escapes", stomp.V10, "SEND", `k\c:a\nb\r\t\`, `k\c`, `a\nb\r\t\`, nil},
		{"1.2 CONNECT not escaped", stomp.V12, "CONNECT", `passcode:a\cb\t`, "passcode", `a\cb\t`, nil},
		{"1.2 STOMP not escaped", stomp.V12, "STOMP", `login:a\n`, "login", `a\n`, nil},
		{"1.2 CONNECTED not escaped", stomp.V12, "CONNECTED", `server:a\r`, "server", `a\r`, nil},
		{"1.1 CONNECT not escaped", stomp.V11, "CONNECT", `login:\z`, "login", `\z`, nil},
		{"no colon", stomp.V12, "SEND", "novalue", "", "", stomp.ErrBadHeader},
		{"empty key", stomp.V12, "SEND", ":v", "", "", stomp.ErrBadHeader},
		{"bare CR in value", stomp.V12, "SEND", "k:a\rb", "", "", stomp.ErrBadHeader},
		{"bare CR before CRLF", stomp.V11, "SEND", "k:a\r\r", "", "", stomp.ErrBadHeader},
		{"bare CR in unescaped value", stomp.V10, "SEND", "k:a\rb", "", "", stomp.ErrBadHeader},
		{"invalid UTF-8 value", stomp.V12, "SEND", "k:\xff", "", "", stomp.ErrInvalidUTF8},
		{"invalid UTF-8 key", stomp.V10, "SEND", "\xc3(:v", "", "", stomp.ErrInvalidUTF8},
		{"UTF-8 kept", stomp.V12, "SEND", "имя:значение ✓", "имя", "значение ✓", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.cmd + "\n" + tc.line + "\n\n\x00"
			frames, err := codecReadAll(in, tc.v, codecLimits)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || len(frames) != 0 {
					t.Fatalf("got %d frames, err %v; want %v", len(frames), err, tc.wantErr)
				}
				return
			}
			if !errors.Is(err, io.EOF) || len(frames) != 1 {
				t.Fatalf("got %d frames, err %v", len(frames), err)
			}
			codecAssertFrame(t, frames[0], codecFrame(tc.cmd, "", tc.key, tc.value))
		})
	}
}

func TestReadFrameRepeatedHeaderFirstWins(t *testing.T) {
	f := codecReadOne(t, "SEND\nk:1\nk:2\ncontent-length:3\ncontent-length:9\n\nabc\x00", stomp.V12, codecLimits)
	if v := f.Header.Value("k"); v != "1" {
		t.Errorf("Value(k) = %q, want the first, 1", v)
	}
	if n, ok, err := f.ContentLength(); n != 3 || !ok || err != nil {
		t.Errorf("ContentLength() = %d, %v, %v; want 3, true, nil", n, ok, err)
	}
	// Every occurrence is kept in wire order, so a proxy can forward them.
	codecAssertFrame(t, f, codecFrame("SEND", "abc", "k", "1", "k", "2", "content-length", "3", "content-length", "9"))
}

func TestReadFrameBodies(t *testing.T) {
	tests := []struct {
		name, in, body string
	}{
		{"content-length with NULs", "SEND\ncontent-length:5\n\n\x00a\x00b\x00\x00", "\x00a\x00b\x00"},
		{"content-length zero", "SEND\ncontent-length:0\n\n\x00", ""},
		{"content-length leading zeros", "SEND\ncontent-length:003\n\nabc\x00", "abc"},
		{"until NUL", "SEND\n\nhello\x00", "hello"},
		{"until NUL keeps EOLs and high bytes", "SEND\n\n\r\na\n\xff\xfe\x00", "\r\na\n\xff\xfe"},
		{"empty", "SEND\n\n\x00", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := codecReadOne(t, tc.in, stomp.V12, codecLimits)
			if string(f.Body) != tc.body {
				t.Fatalf("body = %q, want %q", f.Body, tc.body)
			}
			if tc.body == "" && f.Body != nil {
				t.Fatalf("empty body = %#v, want nil", f.Body)
			}
		})
	}
}

func TestReadFrameLineEndings(t *testing.T) {
	want := codecFrame("SEND", "b\r\n", "destination", "/a", "k", "v")
	for _, in := range []string{
		"SEND\ndestination:/a\nk:v\n\nb\r\n\x00",
		"SEND\r\ndestination:/a\r\nk:v\r\n\r\nb\r\n\x00",
		"SEND\r\ndestination:/a\nk:v\r\n\nb\r\n\x00",
	} {
		codecAssertFrame(t, codecReadOne(t, in, stomp.V12, codecLimits), want)
	}
}

func TestReadFrameHeartbeats(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		frames  int
		wantErr error
	}{
		{"nothing", "", 0, io.EOF},
		{"only LF beats", "\n\n\n", 0, io.EOF},
		{"only CRLF beats", "\r\n\r\n", 0, io.EOF},
		{"beats around frames", "\n\r\nSEND\n\n\x00\n\r\n\nMESSAGE\n\na\x00\r\n", 2, io.EOF},
		{"frames back to back", "SEND\n\n\x00SEND\n\n\x00", 2, io.EOF},
		{"stray CR", "\rX", 0, stomp.ErrBadCommand},
		{"CR at end", "SEND\n\n\x00\r", 1, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := codecReadAll(tc.in, stomp.V12, codecLimits)
			if len(frames) != tc.frames || !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %d frames, err %v; want %d, %v", len(frames), err, tc.frames, tc.wantErr)
			}
			if tc.wantErr == io.EOF && err != io.EOF {
				t.Fatalf("err = %#v, want io.EOF itself", err)
			}
		})
	}
}

// FrameStarted bounds a frame's duration in the server: it must fire once per
// frame, after the heart-beats and never for them.
func TestReadFrameFrameStarted(t *testing.T) {
	r := stomp.NewReader(strings.NewReader("\n\r\nSEND\n\n\x00\n\nSEND\n\n\x00\n"), codecLimits)
	calls := 0
	r.FrameStarted = func() { calls++ }
	for want := 1; want <= 2; want++ {
		if _, err := r.ReadFrame(); err != nil || calls != want {
			t.Fatalf("frame %d: err %v, FrameStarted called %d times", want, err, calls)
		}
	}
	if _, err := r.ReadFrame(); err != io.EOF || calls != 2 {
		t.Fatalf("at the end: err %v, FrameStarted called %d times; want io.EOF, 2", err, calls)
	}
}

func TestReadFrameLimits(t *testing.T) {
	lim := codecLimits
	header := func(n int) string { return "k:" + strings.Repeat("v", n-2) } // n bytes
	headers := func(n int) string { return strings.Repeat("k:v\n", n) }
	tests := []struct {
		name    string
		lim     stomp.Limits
		in      string
		wantErr error // nil: the frame is accepted
	}{
		{"header line at limit", lim, "SEND\n" + header(64) + "\n\n\x00", nil},
		{"header line at limit with CRLF", lim, "SEND\r\n" + header(64) + "\r\n\r\n\x00", nil},
		{"header line over limit", lim, "SEND\n" + header(65) + "\n\n\x00", stomp.ErrHeaderTooLong},
		{"command line over limit", lim, strings.Repeat("S", 65) + "\n\n\x00", stomp.ErrHeaderTooLong},
		{"endless line", lim, strings.Repeat("x", 10000), stomp.ErrHeaderTooLong},
		{"headers at limit", lim, "SEND\n" + headers(4) + "\n\x00", nil},
		{"too many headers", lim, "SEND\n" + headers(5) + "\n\x00", stomp.ErrTooManyHeaders},
		{"body at limit", lim, "SEND\n\n" + strings.Repeat("b", 256) + "\x00", nil},
		{"body over limit", lim, "SEND\n\n" + strings.Repeat("b", 257) + "\x00", stomp.ErrBodyTooLarge},
		{"endless body", lim, "SEND\n\n" + strings.Repeat("b", 10000), stomp.ErrBodyTooLarge},
		{"content-length at limit", lim, "SEND\ncontent-length:256\n\n" + strings.Repeat("b", 256) + "\x00", nil},
		{"content-length over limit", lim, "SEND\ncontent-length:257\n\n", stomp.ErrBodyTooLarge},
		{"content-length far over limit", lim, "SEND\ncontent-length:1099511627776\n\n", stomp.ErrBodyTooLarge},
		{"headers over frame size",
			stomp.Limits{MaxFrameSize: 100, MaxHeaders: 10, MaxHeaderLen: 64, MaxBodySize: 256},
			"SEND\n" + header(40) + "\n" + header(40) + "\n" + header(40) + "\n\n\x00", stomp.ErrFrameTooLarge},
		{"content-length over frame size",
			stomp.Limits{MaxFrameSize: 100, MaxHeaders: 10, MaxHeaderLen: 64, MaxBodySize: 256},
			"SEND\ncontent-length:77\n\n", stomp.ErrFrameTooLarge},
		{"frame at frame size", // "SEND\n" 5 + "content-length:76\n" 18 + "\n" 1 + body 76 = 100
			stomp.Limits{MaxFrameSize: 100, MaxHeaders: 10, MaxHeaderLen: 64, MaxBodySize: 256},
			"SEND\ncontent-length:76\n\n" + strings.Repeat("b", 76) + "\x00", nil},
		{"body without content-length over frame size",
			stomp.Limits{MaxFrameSize: 100, MaxHeaders: 10, MaxHeaderLen: 64, MaxBodySize: 256},
			"SEND\n\n" + strings.Repeat("b", 100) + "\x00", stomp.ErrBodyTooLarge},
		// Lines and bodies longer than the reader's 2 KiB buffer.
		{"long header line within limit",
			stomp.Limits{MaxFrameSize: 1 << 20, MaxHeaders: 4, MaxHeaderLen: 8 << 10, MaxBodySize: 1 << 20},
			"SEND\n" + header(5000) + "\n\n\x00", nil},
		{"long header line over limit",
			stomp.Limits{MaxFrameSize: 1 << 20, MaxHeaders: 4, MaxHeaderLen: 8 << 10, MaxBodySize: 1 << 20},
			"SEND\n" + header(9000) + "\n\n\x00", stomp.ErrHeaderTooLong},
		{"long body within limit",
			stomp.Limits{MaxFrameSize: 1 << 20, MaxHeaders: 4, MaxHeaderLen: 64, MaxBodySize: 8000},
			"SEND\n\n" + strings.Repeat("b", 8000) + "\x00", nil},
		{"long body over limit",
			stomp.Limits{MaxFrameSize: 1 << 20, MaxHeaders: 4, MaxHeaderLen: 64, MaxBodySize: 8000},
			"SEND\n\n" + strings.Repeat("b", 8001) + "\x00", stomp.ErrBodyTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Whole reads through a large buffer and byte-at-a-time reads
			// must agree.
			big := stomp.NewReaderBuf(bufio.NewReaderSize(strings.NewReader(tc.in), 64<<10), tc.lim)
			fBig, errBig := big.ReadFrame()
			frames, err := codecReadAll(tc.in, stomp.V12, tc.lim)
			if tc.wantErr == nil {
				if errBig != nil || !errors.Is(err, io.EOF) || len(frames) != 1 {
					t.Fatalf("got %d frames, err %v (buffered: %v); want the frame", len(frames), err, errBig)
				}
				codecAssertFrame(t, fBig, frames[0])
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(errBig, tc.wantErr) || len(frames) != 0 {
				t.Fatalf("got %d frames, err %v (buffered: %v); want %v", len(frames), err, errBig, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tc.wantErr.Error()+": ") {
				t.Fatalf("err %q does not start with the sentinel's text", err)
			}
		})
	}
}

func TestReadFrameBadContentLength(t *testing.T) {
	for _, v := range []string{"-1", "ten", "", " 3", "3 ", "1.5", "0x10", "99999999999999999999"} {
		t.Run(v, func(t *testing.T) {
			_, err := codecReadAll("SEND\ncontent-length:"+v+"\n\nabc\x00", stomp.V12, codecLimits)
			if !errors.Is(err, stomp.ErrBadContentLength) {
				t.Fatalf("err = %v, want ErrBadContentLength", err)
			}
		})
	}
}

func TestReadFrameMissingNUL(t *testing.T) {
	for _, in := range []string{
		"SEND\ncontent-length:3\n\nabcd\x00",     // body longer than declared
		"SEND\ncontent-length:3\n\nab\x00SEND\n", // body shorter than declared
		"SEND\ncontent-length:0\n\nx",
	} {
		frames, err := codecReadAll(in, stomp.V12, codecLimits)
		if !errors.Is(err, stomp.ErrMissingNUL) || len(frames) != 0 {
			t.Errorf("read %q: %d frames, err %v; want ErrMissingNUL", in, len(frames), err)
		}
	}
}

// Every proper prefix of a frame is a truncated frame: io.ErrUnexpectedEOF,
// never io.EOF, never a frame.
func TestReadFrameTruncated(t *testing.T) {
	for _, whole := range []string{
		"SEND\r\ndestination:/a\r\ncontent-length:3\r\n\r\na\x00c\x00",
		"MESSAGE\nk:v\n\nbody\x00",
		"DISCONNECT\n\n\x00",
	} {
		for n := 1; n < len(whole); n++ {
			frames, err := codecReadAll("\n"+whole[:n], stomp.V12, codecLimits)
			if err != io.ErrUnexpectedEOF || len(frames) != 0 {
				t.Fatalf("read %q: %d frames, err %v; want io.ErrUnexpectedEOF", whole[:n], len(frames), err)
			}
		}
		frames, err := codecReadAll(whole+whole[:len(whole)-1], stomp.V12, codecLimits)
		if err != io.ErrUnexpectedEOF || len(frames) != 1 {
			t.Fatalf("frame then truncated frame: %d frames, err %v", len(frames), err)
		}
	}
}

// A read error other than EOF is returned as is.
func TestReadFrameReadError(t *testing.T) {
	boom := errors.New("boom")
	src := io.MultiReader(strings.NewReader("SEND\nk:"), iotest.ErrReader(boom))
	if _, err := stomp.NewReader(src, codecLimits).ReadFrame(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestFrameContentLength(t *testing.T) {
	tests := []struct {
		header []string
		n      int
		ok     bool
		err    error
	}{
		{nil, 0, false, nil},
		{[]string{"content-length", "12"}, 12, true, nil},
		{[]string{"content-length", "-3"}, 0, true, stomp.ErrBadContentLength},
		{[]string{"content-length", "x"}, 0, true, stomp.ErrBadContentLength},
	}
	for _, tc := range tests {
		n, ok, err := stomp.NewFrame("SEND", nil, tc.header...).ContentLength()
		if n != tc.n || ok != tc.ok || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%q: ContentLength() = %d, %v, %v; want %d, %v, %v", tc.header, n, ok, err, tc.n, tc.ok, tc.err)
		}
	}
}

// TestAnnouncedBodyIsNotAllocated: a content-length near the limit with few
// bytes behind it costs memory for the bytes sent, not for the announcement.
func TestAnnouncedBodyIsNotAllocated(t *testing.T) {
	lim := stomp.DefaultLimits()
	lim.MaxBodySize, lim.MaxFrameSize = 64<<20, 65<<20
	in := "SEND\ndestination:/a\ncontent-length:60000000\n\n" + strings.Repeat("x", 1000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := stomp.NewReader(strings.NewReader(in), lim).ReadFrame()
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("truncated body read without error")
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("reading 1000 bytes of an announced 60 MB body allocated %d bytes", got)
	}
}

// TestLargeBodyExact: a body read in growing chunks arrives byte for byte.
func TestLargeBodyExact(t *testing.T) {
	lim := stomp.DefaultLimits()
	lim.MaxBodySize, lim.MaxFrameSize = 4<<20, 5<<20
	body := make([]byte, 3<<20+17)
	for i := range body {
		body[i] = byte(i * 7)
	}
	in := fmt.Sprintf("SEND\ndestination:/a\ncontent-length:%d\n\n%s\x00", len(body), body)
	f, err := stomp.NewReader(iotest.HalfReader(strings.NewReader(in)), lim).ReadFrame()
	if err != nil || !bytes.Equal(f.Body, body) {
		t.Fatalf("large body: err %v, %d bytes, equal %v", err, len(f.Body), err == nil && bytes.Equal(f.Body, body))
	}
}
