// Package wsnet adapts a client-side WebSocket to net.Conn, so a
// stream-oriented STOMP client (github.com/go-stomp/stomp/v3) runs over
// rcpd's /ws endpoint as browser libraries do. rcpbench, rcpctl and the
// end-to-end tests use it.
package wsnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// Conn adapts a client-side WebSocket to net.Conn so a stream-oriented
// STOMP client (go-stomp) can run over the /ws endpoint exactly as a browser
// library does: incoming messages are concatenated into one byte stream, and
// every Write becomes one WebSocket message. go-stomp writes through a 4 KiB
// bufio.Writer, so a large frame leaves as several Writes — several messages
// — which is how the server's "frame split across messages" path gets
// exercised by a client nobody here wrote.
//
// A Write is a text message when it is valid UTF-8 and a binary message
// otherwise (RFC 6455 forbids invalid UTF-8 in text messages; a chunk that
// cuts a multi-byte rune in two therefore goes out as binary).
type Conn struct {
	ws *websocket.Conn
	r  io.Reader // the message being read; nil between messages

	closeOnce sync.Once
}

var _ net.Conn = (*Conn)(nil)

// DefaultProtocols are the subprotocols Dial offers when none are given.
var DefaultProtocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// Dial opens a WebSocket to url (ws://host:port/ws) offering protocols.
func Dial(ctx context.Context, url string, protocols ...string) (*Conn, error) {
	if len(protocols) == 0 {
		protocols = DefaultProtocols
	}
	d := websocket.Dialer{Subprotocols: protocols, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	resp.Body.Close()
	return &Conn{ws: ws}, nil
}

func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			_, r, err := c.ws.NextReader()
			if err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure,
					websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
					return 0, io.EOF
				}
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *Conn) Write(p []byte) (int, error) {
	kind := websocket.TextMessage
	if !utf8.Valid(p) {
		kind = websocket.BinaryMessage
	}
	if err := c.ws.WriteMessage(kind, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close says goodbye with a normal-closure close message, then releases the
// TCP connection. It is safe to call concurrently with Read and Write.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	})
	return c.ws.Close()
}

func (c *Conn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

func (c *Conn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
