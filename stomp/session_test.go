package stomp_test

// Session tests drive a real server over TCP and WebSocket with a small raw
// STOMP client: frames are encoded with stomp.AppendFrame and decoded with
// stomp.Reader, heart-beat EOLs are seen one by one, and every wait is
// bounded by a read deadline.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rcp/rcp/stomp"
)

// sessWait bounds anything that should happen promptly. It is generous so
// that `go test -race` on a loaded 2-core machine does not flake; passing
// tests never wait for it.
const sessWait = 5 * time.Second

// sessTransports lists the transports every session test runs over.
var sessTransports = []string{"tcp", "ws"}

// forEachTransport runs fn as a subtest per transport.
func forEachTransport(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range sessTransports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fn(t, kind)
		})
	}
}

// sessServer is a stomp.Server listening on both transports.
type sessServer struct {
	srv   *stomp.Server
	obs   *sessObserver
	tcp   string // host:port
	wsURL string // ws://host:port/ws
}

func startSess(t *testing.T, h stomp.Handler, cfg stomp.Config) *sessServer {
	t.Helper()
	obs := newSessObserver()
	if cfg.Observer == nil {
		cfg.Observer = obs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv := stomp.NewServer(h, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tcpDone := make(chan error, 1)
	go func() { tcpDone <- srv.ServeTCP(ln) }()
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sessWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ln.Close() // in case ServeTCP had not registered it yet
		hs.Close()
		select {
		case err := <-tcpDone:
			if err != nil && !errors.Is(err, stomp.ErrServerShutdown) {
				t.Errorf("ServeTCP: %v", err)
			}
		case <-time.After(sessWait):
			t.Errorf("ServeTCP did not return after Shutdown")
		}
	})
	return &sessServer{srv: srv, obs: obs, tcp: ln.Addr().String(),
		wsURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
}

// sessObserver counts what the server reports; changed is signalled on
// every report so tests wait for a condition without polling blindly.
type sessObserver struct {
	mu      sync.Mutex
	errs    map[string]int
	open    int
	changed chan struct{}
}

func newSessObserver() *sessObserver {
	return &sessObserver{errs: make(map[string]int), changed: make(chan struct{}, 1)}
}

func (o *sessObserver) update(fn func()) {
	o.mu.Lock()
	fn()
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

func (o *sessObserver) ConnOpened(string)   { o.update(func() { o.open++ }) }
func (o *sessObserver) ConnClosed(string)   { o.update(func() { o.open-- }) }
func (o *sessObserver) FrameIn(string)      {}
func (o *sessObserver) FrameOut(string)     {}
func (o *sessObserver) Error(reason string) { o.update(func() { o.errs[reason]++ }) }

// Errors returns how often reason was reported.
func (o *sessObserver) Errors(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.errs[reason]
}

// Open returns the number of sessions opened and not yet closed.
func (o *sessObserver) Open() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.open
}

// waitFor waits until cond holds, re-checking on every observer report and
// at least every 10ms (for state the observer does not report, such as
// Server.ConnCount, which drops just after ConnClosed).
func (o *sessObserver) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(sessWait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-o.changed:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", sessWait, what)
		}
	}
}

// sessClient is a raw STOMP client over TCP or WebSocket. It is used from
// one goroutine at a time.
type sessClient struct {
	t       testing.TB
	kind    string
	nc      net.Conn        // tcp
	ws      *websocket.Conn // ws
	br      *bufio.Reader
	r       *stomp.Reader
	ver     stomp.Version
	receipt int
}

func (s *sessServer) dial(t testing.TB, kind string) *sessClient {
	t.Helper()
	c := &sessClient{t: t, kind: kind, ver: stomp.V12}
	var src io.Reader
	switch kind {
	case "tcp":
		nc, err := net.DialTimeout("tcp", s.tcp, sessWait)
		if err != nil {
			t.Fatal(err)
		}
		c.nc, src = nc, nc
	case "ws":
		d := websocket.Dialer{HandshakeTimeout: sessWait, Subprotocols: []string{"v12.stomp"}}
		ws, _, err := d.Dial(s.wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ws.Subprotocol() != "v12.stomp" {
			t.Fatalf("subprotocol %q, want v12.stomp", ws.Subprotocol())
		}
		c.ws, src = ws, &wsStream{ws: ws}
	default:
		t.Fatalf("unknown transport %q", kind)
	}
	c.br = bufio.NewReader(src)
	c.r = stomp.NewReaderBuf(c.br, stomp.DefaultLimits())
	t.Cleanup(func() { c.close() })
	return c
}

// wsStream turns WebSocket messages into one byte stream, as the server does.
type wsStream struct {
	ws  *websocket.Conn
	cur io.Reader
}

func (s *wsStream) Read(p []byte) (int, error) {
	for {
		if s.cur == nil {
			_, r, err := s.ws.NextReader()
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return 0, io.EOF
			}
			if err != nil {
				return 0, err
			}
			s.cur = r
		}
		n, err := s.cur.Read(p)
		if errors.Is(err, io.EOF) {
			s.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *sessClient) close() {
	if c.nc != nil {
		c.nc.Close()
	} else {
		c.ws.Close()
	}
}

func (c *sessClient) setReadDeadline(d time.Time) {
	if c.nc != nil {
		c.nc.SetReadDeadline(d)
	} else {
		c.ws.SetReadDeadline(d)
	}
}

// writeRaw sends bytes as they are (one WebSocket message).
func (c *sessClient) writeRaw(b []byte) error {
	if c.nc != nil {
		c.nc.SetWriteDeadline(time.Now().Add(sessWait))
		_, err := c.nc.Write(b)
		return err
	}
	c.ws.SetWriteDeadline(time.Now().Add(sessWait))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// send writes one frame built from alternating header keys and values.
func (c *sessClient) send(cmd string, body string, kv ...string) {
	c.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	if err := c.writeRaw(stomp.AppendFrame(nil, stomp.NewFrame(cmd, b, kv...), c.ver)); err != nil {
		c.t.Fatalf("send %s: %v", cmd, err)
	}
}

// next reads one frame or one heart-beat EOL (f == nil) within d.
func (c *sessClient) next(d time.Duration) (f *stomp.Frame, err error) {
	c.setReadDeadline(time.Now().Add(d))
	b, err := c.br.Peek(1)
	if err != nil {
		return nil, err
	}
	switch b[0] {
	case '\n':
		c.br.Discard(1)
		return nil, nil
	case '\r':
		if b, err = c.br.Peek(2); err == nil && b[1] == '\n' {
			c.br.Discard(2)
			return nil, nil
		}
	}
	return c.r.ReadFrame()
}

// frame returns the next frame, skipping heart-beats.
func (c *sessClient) frame() *stomp.Frame {
	c.t.Helper()
	deadline := time.Now().Add(sessWait)
	for {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("%s: reading a frame: %v", c.kind, err)
		}
		if f != nil {
			return f
		}
	}
}

// expect reads the next frame and fails unless it is a cmd.
func (c *sessClient) expect(cmd string) *stomp.Frame {
	c.t.Helper()
	f := c.frame()
	if f.Command != cmd {
		c.t.Fatalf("got %s, want %s", describeFrame(f), cmd)
	}
	return f
}

// expectError reads an ERROR with the given message header, then expects
// the server to close the connection.
func (c *sessClient) expectError(message string) *stomp.Frame {
	c.t.Helper()
	f := c.expect(stomp.CmdError)
	if got := f.Header.Value("message"); got != message {
		c.t.Fatalf("ERROR message %q (body %q), want %q", got, f.Body, message)
	}
	c.expectClosed()
	return f
}

// expectClosed reads until the server closes the stream; any frame is an error.
func (c *sessClient) expectClosed() {
	c.t.Helper()
	deadline := time.Now().Add(sessWait)
	for {
		f, err := c.next(time.Until(deadline))
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			c.t.Fatalf("%s: connection still open after %s", c.kind, sessWait)
		case err != nil:
			return // EOF, reset or close frame
		case f != nil:
			c.t.Fatalf("got %s, want the connection closed", describeFrame(f))
		}
	}
}

// connect sends CONNECT (accept-version 1.2, heart-beat 0,0, login user
// unless kv overrides them) and returns CONNECTED.
func (c *sessClient) connect(user string, kv ...string) *stomp.Frame {
	c.t.Helper()
	f := stomp.NewFrame(stomp.CmdConnect, nil, kv...)
	for _, d := range [][2]string{{"accept-version", "1.2"}, {"host", "rcp"},
		{"heart-beat", "0,0"}, {"login", user}} {
		if _, ok := f.Header.Get(d[0]); !ok {
			f.Header.Add(d[0], d[1])
		}
	}
	if err := c.writeRaw(stomp.AppendFrame(nil, f, stomp.V12)); err != nil {
		c.t.Fatal(err)
	}
	cf := c.expect(stomp.CmdConnected)
	switch cf.Header.Value("version") {
	case "1.0":
		c.ver = stomp.V10
	case "1.1":
		c.ver = stomp.V11
	}
	c.r.Version = c.ver
	return cf
}

// call sends a frame with a fresh receipt header and reads up to its
// RECEIPT, returning the frames that came before it.
func (c *sessClient) call(cmd string, body string, kv ...string) (before []*stomp.Frame, receipt *stomp.Frame) {
	c.t.Helper()
	c.receipt++
	id := fmt.Sprintf("r-%d", c.receipt)
	c.send(cmd, body, append(kv, "receipt", id)...)
	for {
		f := c.frame()
		if f.Command != stomp.CmdReceipt {
			if f.Command == stomp.CmdError {
				c.t.Fatalf("%s: got %s, want RECEIPT %s", cmd, describeFrame(f), id)
			}
			before = append(before, f)
			continue
		}
		if got := f.Header.Value("receipt-id"); got != id {
			c.t.Fatalf("%s: RECEIPT receipt-id %q, want %q", cmd, got, id)
		}
		return before, f
	}
}

// callQuiet is call for frames that must not be preceded by any other frame.
func (c *sessClient) callQuiet(cmd string, body string, kv ...string) *stomp.Frame {
	c.t.Helper()
	before, r := c.call(cmd, body, kv...)
	if len(before) > 0 {
		c.t.Fatalf("%s: got %s before its RECEIPT", cmd, describeFrame(before[0]))
	}
	return r
}

func describeFrame(f *stomp.Frame) string {
	if f.Command == stomp.CmdError {
		return fmt.Sprintf("ERROR %q (%q)", f.Header.Value("message"), f.Body)
	}
	return fmt.Sprintf("%s %v %q", f.Command, f.Header, f.Body)
}

// sessBodies returns the bodies of MESSAGE frames.
func sessBodies(fs []*stomp.Frame) []string {
	var out []string
	for _, f := range fs {
		if f.Command == stomp.CmdMessage {
			out = append(out, string(f.Body))
		}
	}
	return out
}
