package stomp_test

import (
	"strings"
	"testing"

	"github.com/rcp/rcp/stomp"
)

// benchFrames are the shapes that dominate a chat server's traffic: a small
// client SEND, and MESSAGE frames with a 1 KiB text and a 64 KiB image body.
func benchFrames() []struct {
	name  string
	frame *stomp.Frame
} {
	text := `{"type":"text","text":"` + strings.Repeat("x", 1024-25) + `"}`
	image := `{"type":"image","image":{"data":"` + strings.Repeat("A", 64<<10-36) + `"}}`
	message := func(body string) *stomp.Frame {
		return stomp.NewFrame(stomp.CmdMessage, []byte(body),
			"subscription", "0",
			"message-id", "1700000000000-0.1",
			"ack", "1700000000000-0.1",
			"destination", "/topic/rooms/42",
			"content-type", "application/json",
			"x-room", "42",
			"x-stream-id", "1700000000000-0",
			"x-seq", "1234",
			"x-prev-id", "1699999999999-3",
			"x-sender", "user-9",
			"x-ts", "1700000000000")
	}
	return []struct {
		name  string
		frame *stomp.Frame
	}{
		{"SEND-200B", stomp.NewFrame(stomp.CmdSend, []byte(`{"type":"text","text":"on my way, be there in 5 minutes"}`),
			"destination", "/app/rooms/42",
			"content-type", "application/json",
			"x-client-id", "0b7e2d7c-4a59-4f0e-9d7e-2b8f6f3f9a11",
			"receipt", "17")},
		{"MESSAGE-1KiB", message(text)},
		{"MESSAGE-64KiB", message(image)},
	}
}

// benchLoop serves the same bytes forever, so one Reader decodes b.N frames
// without the benchmark allocating inputs.
type benchLoop struct {
	data []byte
	off  int
}

func (l *benchLoop) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	for _, bf := range benchFrames() {
		b.Run(bf.name, func(b *testing.B) {
			wire := stomp.AppendFrame(nil, bf.frame, stomp.V12)
			r := stomp.NewReader(&benchLoop{data: wire}, stomp.DefaultLimits())
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				f, err := r.ReadFrame()
				if err != nil {
					b.Fatal(err)
				}
				if len(f.Body) != len(bf.frame.Body) {
					b.Fatalf("body of %d bytes, want %d", len(f.Body), len(bf.frame.Body))
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, bf := range benchFrames() {
		b.Run(bf.name, func(b *testing.B) {
			buf := stomp.AppendFrame(nil, bf.frame, stomp.V12)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = stomp.AppendFrame(buf[:0], bf.frame, stomp.V12)
			}
		})
	}
	// A fresh buffer per frame, as Subscription.Deliver encodes each MESSAGE.
	b.Run("MESSAGE-fresh-buffer", func(b *testing.B) {
		f := stomp.NewFrame(stomp.CmdMessage, []byte(`{"type":"text","text":"on my way, see you in ten minutes"}`),
			"subscription", "0", "message-id", "1795825296123-0.1", "destination", "/topic/rooms/42",
			"ack", "1795825296123-0.1", "content-type", "application/json", "x-room", "42",
			"x-stream-id", "1795825296123-0", "x-seq", "17", "x-sender", "alice", "x-ts", "1795825296123")
		b.ReportAllocs()
		for b.Loop() {
			_ = stomp.AppendFrame(nil, f, stomp.V12)
		}
	})
	// Escaping is the writer's slow path: a header with ':' and '\n'.
	b.Run("MESSAGE-escaped-headers", func(b *testing.B) {
		f := stomp.NewFrame(stomp.CmdMessage, []byte("hi"),
			"destination", "/topic/rooms:42", "x-note", "line1\nline2", "subscription", "0")
		buf := stomp.AppendFrame(nil, f, stomp.V12)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			buf = stomp.AppendFrame(buf[:0], f, stomp.V12)
		}
	})
}
