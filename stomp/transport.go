package stomp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// transport carries frames: a byte stream in, whole encoded frames out.
type transport interface {
	io.Reader
	// WriteFrame writes one encoded frame; it may buffer until Flush.
	WriteFrame(b []byte) error
	Flush() error
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
	// CloseWrite ends the stream politely (WebSocket close message), then
	// Close releases the connection.
	CloseWrite()
	Close() error
	RemoteAddr() string
}

// tcpTransport is plain STOMP over TCP.
type tcpTransport struct {
	nc net.Conn
	bw *bufio.Writer
}

func newTCPTransport(nc net.Conn) *tcpTransport {
	return &tcpTransport{nc: nc, bw: bufio.NewWriterSize(nc, 4096)}
}

func (t *tcpTransport) Read(p []byte) (int, error)         { return t.nc.Read(p) }
func (t *tcpTransport) WriteFrame(b []byte) error          { _, err := t.bw.Write(b); return err }
func (t *tcpTransport) Flush() error                       { return t.bw.Flush() }
func (t *tcpTransport) SetReadDeadline(d time.Time) error  { return t.nc.SetReadDeadline(d) }
func (t *tcpTransport) SetWriteDeadline(d time.Time) error { return t.nc.SetWriteDeadline(d) }
func (t *tcpTransport) Close() error                       { return t.nc.Close() }
func (t *tcpTransport) RemoteAddr() string                 { return t.nc.RemoteAddr().String() }

func (t *tcpTransport) CloseWrite() {
	if tc, ok := t.nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

// Subprotocols offered on the WebSocket endpoint, best first.
var Subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// wsTransport is STOMP over WebSocket: incoming messages, text or binary,
// are one byte stream (a frame may span messages, a message may hold
// several frames); each outgoing frame is one message.
type wsTransport struct {
	ws  *websocket.Conn
	cur io.Reader
}

func (t *wsTransport) Read(p []byte) (int, error) {
	for {
		if t.cur == nil {
			_, r, err := t.ws.NextReader()
			if err != nil {
				return 0, wsReadError(err)
			}
			t.cur = r
		}
		n, err := t.cur.Read(p)
		if errors.Is(err, io.EOF) {
			t.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, wsReadError(err)
		}
		return n, nil
	}
}

// ErrWebSocketMessageTooLarge is returned when one WebSocket message exceeds
// the frame limit; the peer receives close code 1009.
var ErrWebSocketMessageTooLarge = errors.New("websocket message too large")

// wsReadError maps the end of a WebSocket to the end of the byte stream: a
// close message, whatever its code, is the client's orderly end (io.EOF);
// TCP ending without one (gorilla's 1006) is a client that vanished, as a
// phone losing its network (io.ErrUnexpectedEOF). Neither is a server error.
func wsReadError(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		return ErrWebSocketMessageTooLarge
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.CloseAbnormalClosure {
			return io.ErrUnexpectedEOF
		}
		return io.EOF
	}
	return err
}

func (t *wsTransport) WriteFrame(b []byte) error {
	kind := websocket.TextMessage
	if !utf8.Valid(b) {
		kind = websocket.BinaryMessage
	}
	return t.ws.WriteMessage(kind, b)
}

func (t *wsTransport) Flush() error                       { return nil }
func (t *wsTransport) SetReadDeadline(d time.Time) error  { return t.ws.SetReadDeadline(d) }
func (t *wsTransport) SetWriteDeadline(d time.Time) error { return t.ws.SetWriteDeadline(d) }
func (t *wsTransport) Close() error                       { return t.ws.Close() }
func (t *wsTransport) RemoteAddr() string                 { return t.ws.RemoteAddr().String() }

func (t *wsTransport) CloseWrite() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	t.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// writeBufferPool shares WebSocket write buffers between connections, so an
// idle connection holds none.
var writeBufferPool = &sync.Pool{}

// ServeHTTP upgrades a request to a WebSocket STOMP session (the /ws
// endpoint). Clients that offer no subprotocol are accepted.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.isShutdown() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{
		// The session's stomp.Reader buffers the stream (2 KiB) and reads
		// payloads straight past this buffer, which only needs to hold frame
		// headers and control frames (≤ 125 bytes): 256 saves 768 bytes
		// per connection over 1024.
		ReadBufferSize:  256,
		WriteBufferSize: 4096,
		WriteBufferPool: writeBufferPool,
		Subprotocols:    Subprotocols,
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.cfg.Observer.Error("websocket_upgrade")
		return
	}
	ws.SetReadLimit(int64(s.cfg.Limits.MaxFrameSize) + 1024)
	// The session runs on its own goroutine and this handler returns: net/http
	// keeps its per-connection buffers (about 8 KiB), the request and the
	// handler's grown stack alive until ServeHTTP returns, which is dead
	// weight on a long-lived idle WebSocket (measured: docs/decisions-stomp.md).
	go s.serve(&wsTransport{ws: ws}, "ws")
}
