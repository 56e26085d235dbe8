package stomp_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/gorilla/websocket"

	"github.com/rcp/rcp/stomp"
)

// TestConformanceRawWebSocket speaks STOMP over a bare gorilla WebSocket to
// pin down the framing rules of the /ws endpoint: the client's messages are
// one byte stream (several frames in a message, a frame across messages,
// text or binary), every server frame is exactly one message, subprotocol
// negotiation, and the server closing the TCP connection once the
// WebSocket is closed — whoever closed it. Server frames are parsed with
// go-stomp's parser, not ours.
func TestConformanceRawWebSocket(t *testing.T) {
	const connect = "CONNECT\naccept-version:1.2\nhost:rcp\nlogin:alice\n\n\x00"
	cases := []struct {
		name      string
		protocols []string // offered by the client
		want      string   // subprotocol the server must pick
		run       func(t *testing.T, r *rawWS)
	}{
		{"several-frames-in-one-message", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			batch := connect +
				"SUBSCRIBE\nid:s1\ndestination:/t\n\n\x00" +
				"SEND\ndestination:/t\nreceipt:r1\n\nhello\x00" +
				"\n\r\n" // heart-beats between frames
			binary := "SEND\ndestination:/t\ncontent-length:3\n\n\xff\x00b\x00\n"
			r.send(batch, binary)
			r.expect(websocket.TextMessage, "CONNECTED", "version", "1.2", "user-name", "alice")
			r.expect(websocket.TextMessage, "MESSAGE", "subscription", "s1", "message-id", "1.1",
				"destination", "/t", "x-sender", "alice").body("hello")
			r.expect(websocket.TextMessage, "RECEIPT", "receipt-id", "r1", "x-message-id", "1")
			// A body that is not UTF-8 can only travel in a binary message.
			r.expect(websocket.BinaryMessage, "MESSAGE", "message-id", "2.1", "content-length", "3").body("\xff\x00b")
		}},
		{"frame-split-across-three-messages", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send("CONN", "ECT\naccept-version:1.2\nhost:rcp\nlog", "in:alice\n\n\x00")
			r.expect(websocket.TextMessage, "CONNECTED", "version", "1.2", "user-name", "alice")
			r.send("SUBSCRIBE\nid:s1\ndestination:/t\n\n\x00")
			r.send("SEND\ndestination:/t\ncontent-le", "ngth:5\nreceipt:r1\n\nhel", "lo\x00")
			r.expect(websocket.TextMessage, "MESSAGE", "message-id", "1.1").body("hello")
			r.expect(websocket.TextMessage, "RECEIPT", "receipt-id", "r1", "x-message-id", "1")
			// No content-length: the NUL alone in the last message ends it.
			r.send("SEND\ndestination:/t\n\nab", "c", "\x00")
			r.expect(websocket.TextMessage, "MESSAGE", "message-id", "2.1").body("abc")
			// A rune cut in two: each half is a binary message on its own.
			r.send("SEND\ndestination:/t\n\nh\xc3", "\xa9llo", "\x00")
			r.expect(websocket.TextMessage, "MESSAGE", "message-id", "3.1").body("héllo")
		}},
		{"no-subprotocol", nil, "", func(t *testing.T, r *rawWS) {
			r.send(connect)
			r.expect(websocket.TextMessage, "CONNECTED", "version", "1.2")
			r.send("DISCONNECT\nreceipt:bye\n\n\x00")
			r.expect(websocket.TextMessage, "RECEIPT", "receipt-id", "bye")
			r.expectClosed(websocket.CloseNormalClosure)
		}},
		{"only-v10.stomp", []string{"v10.stomp"}, "v10.stomp", func(t *testing.T, r *rawWS) {
			// STOMP 1.0: no accept-version, SUBSCRIBE without id.
			r.send("CONNECT\nlogin:alice\n\n\x00")
			r.expect(websocket.TextMessage, "CONNECTED", "version", "1.0", "user-name", "alice")
			r.send("SUBSCRIBE\ndestination:/t\n\n\x00", "SEND\ndestination:/t\n\nold\x00")
			r.expect(websocket.TextMessage, "MESSAGE", "subscription", "/t", "message-id", "1.1").body("old")
		}},
		{"server-preference-wins", []string{"v10.stomp", "v11.stomp", "v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send(connect)
			r.expect(websocket.TextMessage, "CONNECTED", "version", "1.2")
		}},
		{"tcp-closed-after-disconnect", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send(connect, "SUBSCRIBE\nid:s1\ndestination:/t\n\n\x00", "DISCONNECT\nreceipt:bye\n\n\x00")
			session := r.expect(websocket.TextMessage, "CONNECTED").Header.Get("session")
			r.expect(websocket.TextMessage, "RECEIPT", "receipt-id", "bye")
			r.expectClosed(websocket.CloseNormalClosure)
			r.h.waitSessionGone(t, session)
			if n := r.h.Subscribers("/t"); n != 0 {
				t.Errorf("%d subscriptions survived DISCONNECT", n)
			}
		}},
		{"tcp-closed-after-client-close", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send(connect)
			session := r.expect(websocket.TextMessage, "CONNECTED").Header.Get("session")
			r.closeWS(websocket.CloseNormalClosure)
			r.expectClosed(websocket.CloseNormalClosure) // the server's answer
			r.h.waitSessionGone(t, session)
		}},
		{"tcp-closed-after-client-close-going-away", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send(connect)
			session := r.expect(websocket.TextMessage, "CONNECTED").Header.Get("session")
			r.closeWS(websocket.CloseGoingAway)
			r.expectClosed(websocket.CloseGoingAway)
			r.h.waitSessionGone(t, session)
		}},
		{"tcp-closed-after-error", []string{"v12.stomp"}, "v12.stomp", func(t *testing.T, r *rawWS) {
			r.send("SEND\ndestination:/t\n\nearly\x00")
			r.expect(websocket.TextMessage, "ERROR", "message", "frame before CONNECT",
				"content-type", "text/plain").body("frame before CONNECT: got SEND")
			r.expectClosed(websocket.CloseNormalClosure)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startConf(t, "ws", stomp.Config{})
			r := dialRawWS(t, e, tc.protocols...)
			if got := r.ws.Subprotocol(); got != tc.want {
				t.Fatalf("offered %q: server chose subprotocol %q, want %q", tc.protocols, got, tc.want)
			}
			tc.run(t, r)
		})
	}
}

// TestConformanceClientVanishes: clients leave without saying goodbye —
// a phone loses its network, stompjs deactivate({force: true}) drops the
// socket. The session must end and be counted for what it is, never as an
// internal error of the server (which logs at error level and pages).
func TestConformanceClientVanishes(t *testing.T) {
	const connect = "CONNECT\naccept-version:1.2\nhost:rcp\nlogin:alice\n\n\x00"
	cases := []struct {
		name      string
		transport string
		leave     func(t *testing.T, nc net.Conn, ws *websocket.Conn)
		reasons   []string // what the Observer must have counted
	}{
		{"ws-tcp-closed-without-close-message", "ws", func(t *testing.T, nc net.Conn, _ *websocket.Conn) {
			nc.Close()
		}, []string{"unexpected_eof"}},
		{"ws-close-message-with-app-code", "ws", func(t *testing.T, _ net.Conn, ws *websocket.Conn) {
			msg := websocket.FormatCloseMessage(4000, "logged out")
			if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(confWait)); err != nil {
				t.Fatal(err)
			}
		}, nil},
		{"tcp-reset", "tcp", func(t *testing.T, nc net.Conn, _ *websocket.Conn) {
			nc.(*net.TCPConn).SetLinger(0) // Close sends RST
			nc.Close()
		}, []string{"unexpected_eof"}},
		{"tcp-fin-inside-a-frame", "tcp", func(t *testing.T, nc net.Conn, _ *websocket.Conn) {
			io.WriteString(nc, "SEND\ndestination:/t\n\nhal")
			nc.Close()
		}, []string{"unexpected_eof"}},
		{"tcp-fin-between-frames", "tcp", func(t *testing.T, nc net.Conn, _ *websocket.Conn) {
			nc.Close()
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startConf(t, tc.transport, stomp.Config{})
			var nc net.Conn
			var ws *websocket.Conn
			var session string
			if tc.transport == "ws" {
				r := dialRawWS(t, e, "v12.stomp")
				r.send(connect)
				session = r.expect(websocket.TextMessage, "CONNECTED").Header.Get("session")
				nc, ws = r.ws.NetConn(), r.ws
			} else {
				nc = e.dialRaw()
				t.Cleanup(func() { nc.Close() })
				nc.SetDeadline(time.Now().Add(confWait))
				io.WriteString(nc, connect)
				f, err := frame.NewReader(nc).Read()
				if err != nil || f == nil || f.Command != "CONNECTED" {
					t.Fatalf("CONNECT: %v %v", f, err)
				}
				session = f.Header.Get("session")
			}
			tc.leave(t, nc, ws)
			e.h.waitSessionGone(t, session)
			if got := e.obs.Reasons(); !slices.Equal(got, tc.reasons) {
				t.Errorf("server counted %q, want %q", got, tc.reasons)
			}
		})
	}
}

// rawWS is a WebSocket client that sends hand-written STOMP.
type rawWS struct {
	t   *testing.T
	h   *confHandler
	obs *confObserver
	ws  *websocket.Conn
}

func dialRawWS(t *testing.T, e *confEnv, protocols ...string) *rawWS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), confWait)
	defer cancel()
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: confWait}
	ws, resp, err := d.DialContext(ctx, e.url, nil)
	if err != nil {
		t.Fatalf("dial %s offering %q: %v", e.url, protocols, err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &rawWS{t: t, h: e.h, obs: e.obs, ws: ws}
}

// send writes each string as one message: text if it is UTF-8, else binary.
func (r *rawWS) send(msgs ...string) {
	r.t.Helper()
	for _, m := range msgs {
		kind := websocket.TextMessage
		if !utf8.ValidString(m) {
			kind = websocket.BinaryMessage
		}
		r.ws.SetWriteDeadline(time.Now().Add(confWait))
		if err := r.ws.WriteMessage(kind, []byte(m)); err != nil {
			r.t.Fatalf("write %q: %v", m, err)
		}
	}
}

// rawFrame is a received frame, for chaining body checks.
type rawFrame struct {
	*frame.Frame
	t *testing.T
}

func (f rawFrame) body(want string) {
	f.t.Helper()
	if string(f.Body) != want {
		f.t.Errorf("%s body %q, want %q", f.Command, f.Body, want)
	}
}

// expect reads the next message, which must hold exactly one frame of cmd
// in a message of kind, with the given header key/value pairs.
func (r *rawWS) expect(kind int, cmd string, kv ...string) rawFrame {
	r.t.Helper()
	r.ws.SetReadDeadline(time.Now().Add(confWait))
	gotKind, data, err := r.ws.ReadMessage()
	if err != nil {
		r.t.Fatalf("waiting for %s: %v", cmd, err)
	}
	fr := frame.NewReader(bytes.NewReader(data))
	f, err := fr.Read()
	if err != nil || f == nil {
		r.t.Fatalf("waiting for %s: message %q is not a frame (err %v)", cmd, data, err)
	}
	if extra, err := fr.Read(); !errors.Is(err, io.EOF) {
		r.t.Fatalf("one message held more than the %s frame: %v, %v", f.Command, extra, err)
	}
	if f.Command != cmd {
		r.t.Fatalf("got %s (%v, body %q), want %s", f.Command, f.Header, f.Body, cmd)
	}
	if gotKind != kind {
		r.t.Errorf("%s came in message type %d, want %d", cmd, gotKind, kind)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if got, ok := f.Header.Contains(kv[i]); !ok || got != kv[i+1] {
			r.t.Errorf("%s header %s: %q (present %v), want %q", cmd, kv[i], got, ok, kv[i+1])
		}
	}
	return rawFrame{f, r.t}
}

// closeWS starts the closing handshake from the client side.
func (r *rawWS) closeWS(code int) {
	r.t.Helper()
	msg := websocket.FormatCloseMessage(code, "")
	if err := r.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(confWait)); err != nil {
		r.t.Fatal(err)
	}
}

// expectClosed reads the server's close message (gorilla answers it) and
// then requires the server to close the TCP connection: a client such as
// node's ws waits for that before it reports the socket closed.
func (r *rawWS) expectClosed(code int) {
	r.t.Helper()
	r.ws.SetReadDeadline(time.Now().Add(confWait))
	_, data, err := r.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		r.t.Fatalf("want a close message with code %d, got message %q, err %v", code, data, err)
	}
	nc := r.ws.NetConn()
	nc.SetReadDeadline(time.Now().Add(confWait))
	n, err := nc.Read(make([]byte, 64))
	// EOF, or a reset when our close answer reached an already closed
	// socket: either way the server closed the connection.
	if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		r.t.Fatalf("after the WebSocket close the server kept TCP open: read %d bytes, err %v", n, err)
	}
}
