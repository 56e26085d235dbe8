package stomp_test

// The bad-input table: malformed and hostile inputs sent over real TCP and
// WebSocket connections to a server backed by memtopic. Each row asserts the
// exact ERROR (message header, body, receipt-id) or WebSocket close code,
// that the attacker's connection is closed afterwards, and that the server
// keeps serving: a bystander connected before the attack and a client that
// connects after it still exchange a message.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

// badWait bounds every wait; passing tests never reach it.
const badWait = 10 * time.Second

const (
	badFrameTimeout   = 300 * time.Millisecond
	badConnectTimeout = 250 * time.Millisecond
	badHeartbeatRecv  = 100 * time.Millisecond
)

// badConfig keeps limits and timeouts small so each attack is cheap and fast.
func badConfig() stomp.Config {
	return stomp.Config{
		Limits:         stomp.Limits{MaxFrameSize: 8 << 10, MaxHeaders: 16, MaxHeaderLen: 1 << 10, MaxBodySize: 4 << 10},
		HeartbeatRecv:  badHeartbeatRecv,
		ConnectTimeout: badConnectTimeout,
		FrameTimeout:   badFrameTimeout,
		Logger:         slog.New(slog.DiscardHandler),
	}
}

type badCase struct {
	name      string
	only      string   // "tcp" or "ws" when the input exists on one transport only
	noConnect bool     // attack before CONNECT
	hello     []string // CONNECT headers overriding the defaults
	send      string   // raw bytes of the attack
	attack    func(c *badClient)
	replies   []string      // receipt-ids the attack earns before its ERROR
	message   string        // ERROR message header
	body      string        // ERROR body
	receipt   string        // ERROR receipt-id; "" means none
	notBefore time.Duration // the ERROR must not come sooner after dialing (timeouts)
	closeCode int           // a WebSocket close code instead of an ERROR
	// wsWriteBuffer, if set, is the attacker's WebSocket write buffer: a
	// message that fits is sent as a single frame.
	wsWriteBuffer int
}

// badHuge is a 10 MB SEND frame.
var badHuge = badRaw("SEND", strings.Repeat("x", 10<<20), "destination", "/topic/x")

// badRaw builds a frame byte for byte: no escaping, no content-length added.
func badRaw(cmd, body string, kv ...string) string {
	var b strings.Builder
	b.WriteString(cmd + "\n")
	for i := 0; i+1 < len(kv); i += 2 {
		b.WriteString(kv[i] + ":" + kv[i+1] + "\n")
	}
	return b.String() + "\n" + body + "\x00"
}

func badHeaders(n, valueLen int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, "h"+string(rune('a'+i)), strings.Repeat("v", valueLen))
	}
	return kv
}

func badCases() []badCase {
	long := func(n int) string { return strings.Repeat("b", n) }
	return []badCase{
		{name: "unknown command", send: badRaw("FOO", ""),
			message: "unknown command", body: `unknown command: "FOO"`},
		{name: "lower-case command", send: badRaw("send", "", "destination", "/topic/x"),
			message: "unknown command", body: `unknown command: "send"`},
		{name: "binary garbage", send: "\xff\xfe\xc0\x80\n\x00\x01",
			message: "unknown command", body: `unknown command: "\xff\xfe\xc0\x80"`},
		{name: "stray carriage return", send: "\rSEND\n\n\x00",
			message: "unknown command", body: "unknown command: stray carriage return"},
		{name: "missing NUL after content-length body", send: "SEND\ndestination:/topic/x\ncontent-length:3\n\nabcX\x00",
			message: "frame not terminated by NUL", body: "frame not terminated by NUL: byte 88 after content-length 3 body is not NUL"},
		{name: "oversize frame", send: badRaw("SEND", "", badHeaders(10, 1000)...),
			message: "frame too large", body: "frame too large: headers exceed 8192 bytes"},
		{name: "content-length leaves frame over limit",
			send:    badRaw("SEND", long(4000), append(badHeaders(5, 1000), "content-length", "4000")...),
			message: "frame too large", body: "frame too large: content-length 4000 leaves frame over 8192 bytes"},
		{name: "oversize header line", send: badRaw("SEND", "", "destination", "/topic/"+long(2000)),
			message: "header line too long", body: "header line too long: line over 1024 bytes"},
		{name: "too many headers", send: badRaw("SEND", "", badHeaders(17, 1)...),
			message: "too many headers", body: "too many headers: more than 16"},
		{name: "oversize body", send: badRaw("SEND", long(5000), "destination", "/topic/x"),
			message: "body too large", body: "body too large: no NUL within 4096 bytes"},
		{name: "content-length over limit", send: badRaw("SEND", long(5000), "content-length", "5000"),
			message: "body too large", body: "body too large: content-length 5000 over limit 4096"},
		{name: "undefined escape", send: badRaw("SEND", "", "destination", "/topic/x", "receipt", "r", "x", `a\tb`),
			message: "undefined escape sequence in header", body: `undefined escape sequence in header: \'t'`},
		{name: "CR escape in STOMP 1.1", hello: []string{"accept-version", "1.1"},
			send:    badRaw("SEND", "", "destination", "/topic/x", "x", `a\rb`),
			message: "undefined escape sequence in header", body: `undefined escape sequence in header: \r is not defined in STOMP 1.1`},
		{name: "non-UTF-8 header", send: badRaw("SEND", "", "destination", "/topic/x", "x", "\xff\xfe"),
			message: "header is not valid UTF-8", body: `header is not valid UTF-8: "x:\xff\xfe"`},
		{name: "header without colon", send: "SEND\ndestination:/topic/x\nnocolon\n\n\x00",
			message: "malformed header", body: `malformed header: no key before ':' in "nocolon"`},
		{name: "bare CR in header", send: "SEND\ndestination:/topic/x\nx:a\rb\n\n\x00",
			message: "malformed header", body: `malformed header: carriage return in "x:a\rb"`},
		{name: "content-length shorter than body", send: badRaw("SEND", "abcdef", "destination", "/topic/x", "content-length", "2"),
			message: "frame not terminated by NUL", body: "frame not terminated by NUL: byte 99 after content-length 2 body is not NUL"},
		{name: "content-length longer than body",
			send:    badRaw("SEND", "abc", "destination", "/topic/x", "content-length", "10") + badRaw("DISCONNECT", ""),
			message: "frame not terminated by NUL", body: "frame not terminated by NUL: byte 78 after content-length 10 body is not NUL"},
		{name: "negative content-length", send: badRaw("SEND", "", "destination", "/topic/x", "content-length", "-1"),
			message: "invalid content-length", body: `invalid content-length: content-length "-1"`},
		{name: "non-numeric content-length", send: badRaw("SEND", "", "destination", "/topic/x", "content-length", "ten"),
			message: "invalid content-length", body: `invalid content-length: content-length "ten"`},
		{name: "SEND without destination", send: badRaw("SEND", "hi", "receipt", "r"),
			message: "missing required header", body: "missing required header: SEND needs destination", receipt: "r"},
		{name: "SUBSCRIBE without id", send: badRaw("SUBSCRIBE", "", "destination", "/topic/x", "receipt", "r"),
			message: "missing required header", body: "missing required header: SUBSCRIBE needs id", receipt: "r"},
		{name: "SUBSCRIBE without destination", send: badRaw("SUBSCRIBE", "", "id", "1", "receipt", "r"),
			message: "missing required header", body: "missing required header: SUBSCRIBE needs destination", receipt: "r"},
		{name: "duplicate subscription id",
			send: badRaw("SUBSCRIBE", "", "id", "1", "destination", "/topic/x", "receipt", "s1") +
				badRaw("SUBSCRIBE", "", "id", "1", "destination", "/topic/y", "receipt", "s2"),
			replies: []string{"s1"}, message: "duplicate subscription id", body: `duplicate subscription id: "1"`, receipt: "s2"},
		{name: "bad ack mode", send: badRaw("SUBSCRIBE", "", "id", "1", "destination", "/topic/x", "ack", "sometimes", "receipt", "r"),
			message: "protocol violation", body: `protocol violation: ack mode "sometimes"`, receipt: "r"},
		{name: "ACK of an unknown id", send: badRaw("ACK", "", "id", "7.1", "receipt", "r"),
			message: "unknown ack id", body: `unknown ack id: "7.1"`, receipt: "r"},
		{name: "ACK without id", send: badRaw("ACK", "", "message-id", "7.1", "receipt", "r"),
			message: "missing required header", body: "missing required header: ACK needs id", receipt: "r"},
		{name: "NACK of an unknown id", send: badRaw("NACK", "", "id", "7.1"),
			message: "unknown ack id", body: `unknown ack id: "7.1"`},
		{name: "UNSUBSCRIBE unknown id", send: badRaw("UNSUBSCRIBE", "", "id", "9", "receipt", "r"),
			message: "unknown subscription", body: `unknown subscription: "9"`, receipt: "r"},
		{name: "frame before CONNECT", noConnect: true, send: badRaw("SEND", "hi", "destination", "/topic/x", "receipt", "r"),
			message: "frame before CONNECT", body: "frame before CONNECT: got SEND", receipt: "r"},
		{name: "second CONNECT", send: badRaw("CONNECT", "", "accept-version", "1.2", "host", "rcp", "receipt", "r"),
			message: "second CONNECT", body: "second CONNECT", receipt: "r"},
		{name: "unsupported accept-version", noConnect: true, send: badRaw("CONNECT", "", "accept-version", "2.0,3.1", "host", "rcp"),
			message: "unsupported protocol version", body: `accept-version "2.0,3.1"; this server speaks 1.0, 1.1, 1.2`},
		{name: "bad heart-beat header", noConnect: true, send: badRaw("CONNECT", "", "accept-version", "1.2", "heart-beat", "soon"),
			message: "protocol violation", body: `protocol violation: bad heart-beat header "soon"`},
		{name: "COMMIT unknown transaction", send: badRaw("COMMIT", "", "transaction", "t9", "receipt", "r"),
			message: "unknown transaction", body: `unknown transaction: "t9"`, receipt: "r"},
		{name: "ABORT unknown transaction", send: badRaw("ABORT", "", "transaction", "t9"),
			message: "unknown transaction", body: `unknown transaction: "t9"`},
		{name: "SEND in unknown transaction", send: badRaw("SEND", "hi", "destination", "/topic/x", "transaction", "t9", "receipt", "r"),
			message: "unknown transaction", body: `unknown transaction: "t9"`, receipt: "r"},
		{name: "duplicate BEGIN",
			send:    badRaw("BEGIN", "", "transaction", "t1", "receipt", "b1") + badRaw("BEGIN", "", "transaction", "t1", "receipt", "b2"),
			replies: []string{"b1"}, message: "transaction already open", body: `transaction already open: "t1"`, receipt: "b2"},
		{name: "MESSAGE from a client", send: badRaw("MESSAGE", "hi", "destination", "/topic/x", "message-id", "1", "receipt", "r"),
			message: "protocol violation", body: "protocol violation: MESSAGE is a server frame", receipt: "r"},
		{name: "slowloris partial frame", attack: func(c *badClient) {
			c.trickle("SEND\ndestination:/topic/x\n\nthis frame never ends", 20*time.Millisecond)
		}, message: "frame not completed in time", body: "frame not completed in time: within 300ms", notBefore: badFrameTimeout},
		{name: "silent after heart-beat negotiation", hello: []string{"heart-beat", "100,0"}, attack: func(*badClient) {},
			message:   "no data from client within heart-beat grace",
			body:      "no data from client within heart-beat grace: expected every 100ms",
			notBefore: 2 * badHeartbeatRecv},
		{name: "no CONNECT within ConnectTimeout", noConnect: true, attack: func(*badClient) {},
			message: "frame not completed in time", body: "frame not completed in time: CONNECT within 250ms",
			notBefore: badConnectTimeout},
		// A browser sends a message as one WebSocket frame: its length alone
		// is over the read limit, so the server closes with 1009 at once.
		{name: "10 MB WebSocket message", only: "ws", wsWriteBuffer: 11 << 20, attack: func(c *badClient) {
			c.writeAsync(func() error { return c.ws.WriteMessage(websocket.TextMessage, []byte(badHuge)) })
		}, closeCode: websocket.CloseMessageTooBig},
		// gorilla's client fragments it into 4 KiB frames: the body limit
		// refuses it long before the read limit is reached.
		{name: "10 MB WebSocket message in fragments", only: "ws", attack: func(c *badClient) {
			c.writeAsync(func() error { return c.ws.WriteMessage(websocket.TextMessage, []byte(badHuge)) })
		}, message: "body too large", body: "body too large: no NUL within 4096 bytes"},
	}
}

func TestBadInput(t *testing.T) {
	for _, kind := range []string{"tcp", "ws"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, tc := range badCases() {
				if tc.only != "" && tc.only != kind {
					continue
				}
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					runBadCase(t, kind, tc)
				})
			}
		})
	}
}

func runBadCase(t *testing.T, kind string, tc badCase) {
	srv := startBadServer(t, kind)
	by := srv.dial(t, 0)
	by.connect("bystander")
	by.call("SUBSCRIBE", "", "id", "0", "destination", "/topic/by", "receipt", "by-sub")

	// The server's clocks start at accept or at CONNECT, never before the
	// attacker dials: the lower bound of notBefore.
	start := time.Now()
	at := srv.dial(t, tc.wsWriteBuffer)
	if !tc.noConnect {
		at.connect("attacker", tc.hello...)
	}
	if tc.attack != nil {
		tc.attack(at)
	} else {
		at.writeAsync(func() error { return at.write([]byte(tc.send)) })
	}
	for _, id := range tc.replies {
		at.expectReceipt(id)
	}
	if tc.closeCode != 0 {
		at.expectClose(tc.closeCode)
	} else {
		at.expectError(tc.message, tc.body, tc.receipt)
		if elapsed := time.Since(start); elapsed < tc.notBefore {
			t.Errorf("ERROR after %s, before %s", elapsed, tc.notBefore)
		}
		at.expectClose(websocket.CloseNormalClosure)
	}

	// The server keeps serving: the bystander and a newcomer both get a
	// message the bystander sends now.
	late := srv.dial(t, 0)
	late.connect("late")
	late.call("SUBSCRIBE", "", "id", "0", "destination", "/topic/by", "receipt", "late-sub")
	by.send(badRaw("SEND", "still serving", "destination", "/topic/by", "receipt", "after"))
	for _, c := range []*badClient{by, late} {
		m := c.frame()
		if m.Command != "MESSAGE" || string(m.Body) != "still serving" ||
			m.Header.Value("destination") != "/topic/by" || m.Header.Value("x-sender") != "bystander" {
			t.Fatalf("after the attack got %s %q %q, want the bystander's MESSAGE", m.Command, m.Header, m.Body)
		}
	}
	by.expectReceipt("after")
}

type badServer struct {
	kind string
	addr string
}

func startBadServer(t *testing.T, kind string) *badServer {
	srv := stomp.NewServer(memtopic.New(), badConfig())
	s := &badServer{kind: kind}
	var stop func()
	switch kind {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- srv.ServeTCP(ln) }()
		s.addr = ln.Addr().String()
		stop = func() {
			if err := <-served; err != nil {
				t.Errorf("ServeTCP: %v", err)
			}
		}
	case "ws":
		mux := http.NewServeMux()
		mux.Handle("/ws", srv)
		hs := httptest.NewServer(mux)
		s.addr = hs.Listener.Addr().String()
		stop = hs.Close
	}
	// Registered before any client, so it runs after they are closed:
	// every session, the attacked one included, must end promptly.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), badWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v (a session did not end)", err)
		}
		stop()
	})
	return s
}

// badClient is a raw client whose writes may run on one goroutine while
// the test reads on another.
type badClient struct {
	t      *testing.T
	nc     net.Conn        // tcp
	ws     *websocket.Conn // ws
	r      *stomp.Reader
	stop   chan struct{}
	writes sync.WaitGroup
}

func (s *badServer) dial(t *testing.T, wsWriteBuffer int) *badClient {
	t.Helper()
	c := &badClient{t: t, stop: make(chan struct{})}
	var src io.Reader
	deadline := time.Now().Add(badWait)
	switch s.kind {
	case "tcp":
		nc, err := net.DialTimeout("tcp", s.addr, badWait)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(deadline)
		c.nc, src = nc, nc
	case "ws":
		d := websocket.Dialer{HandshakeTimeout: badWait, Subprotocols: []string{"v12.stomp"}, WriteBufferSize: wsWriteBuffer}
		ws, _, err := d.Dial("ws://"+s.addr+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(deadline)
		ws.SetWriteDeadline(deadline)
		c.ws, src = ws, &badWSStream{ws: ws}
	}
	c.r = stomp.NewReader(src, stomp.DefaultLimits())
	t.Cleanup(func() {
		close(c.stop)
		if c.nc != nil {
			c.nc.Close()
		} else {
			c.ws.Close()
		}
		c.writes.Wait()
	})
	return c
}

// write sends b: over WebSocket as messages of at most 1 KiB (a frame may
// span messages), text when valid UTF-8, binary otherwise.
func (c *badClient) write(b []byte) error {
	if c.nc != nil {
		_, err := c.nc.Write(b)
		return err
	}
	for len(b) > 0 {
		n := min(len(b), 1<<10)
		kind := websocket.TextMessage
		if !utf8.Valid(b[:n]) {
			kind = websocket.BinaryMessage
		}
		if err := c.ws.WriteMessage(kind, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// writeAsync runs an attacker's write on its own goroutine: the server may
// stop reading and close mid-write, so its error is expected and ignored.
func (c *badClient) writeAsync(fn func() error) {
	c.writes.Add(1)
	go func() {
		defer c.writes.Done()
		_ = fn()
	}()
}

// trickle sends s one byte per tick until it is sent, a write fails or the
// test ends.
func (c *badClient) trickle(s string, every time.Duration) {
	c.writeAsync(func() error {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range len(s) {
			if err := c.write([]byte{s[i]}); err != nil {
				return err
			}
			select {
			case <-tick.C:
			case <-c.stop:
				return nil
			}
		}
		return nil
	})
}

// send writes synchronously; it is for well-behaved clients.
func (c *badClient) send(s string) {
	c.t.Helper()
	if err := c.write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *badClient) frame() *stomp.Frame {
	c.t.Helper()
	f, err := c.r.ReadFrame()
	if err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return f
}

func (c *badClient) connect(login string, hello ...string) {
	c.t.Helper()
	kv := []string{"accept-version", "1.2", "host", "rcp", "login", login, "heart-beat", "0,0"}
	for i := 0; i+1 < len(hello); i += 2 {
		for j := 0; j+1 < len(kv); j += 2 {
			if kv[j] == hello[i] {
				kv[j+1] = hello[i+1]
			}
		}
	}
	c.send(badRaw("CONNECT", "", kv...))
	f := c.frame()
	if f.Command != "CONNECTED" {
		c.t.Fatalf("CONNECT: got %s %q %q", f.Command, f.Header, f.Body)
	}
	c.r.Version = map[string]stomp.Version{"1.0": stomp.V10, "1.1": stomp.V11, "1.2": stomp.V12}[f.Header.Value("version")]
}

// call sends a frame that carries a receipt header and reads its RECEIPT.
func (c *badClient) call(cmd, body string, kv ...string) {
	c.t.Helper()
	c.send(badRaw(cmd, body, kv...))
	c.expectReceipt(stomp.NewFrame(cmd, nil, kv...).Header.Value("receipt"))
}

func (c *badClient) expectReceipt(id string) {
	c.t.Helper()
	if f := c.frame(); f.Command != "RECEIPT" || f.Header.Value("receipt-id") != id {
		c.t.Fatalf("got %s %q %q, want RECEIPT %s", f.Command, f.Header, f.Body, id)
	}
}

func (c *badClient) expectError(message, body, receipt string) {
	c.t.Helper()
	f := c.frame()
	if f.Command != "ERROR" {
		c.t.Fatalf("got %s %q %q, want ERROR", f.Command, f.Header, f.Body)
	}
	if got := f.Header.Value("message"); got != message {
		c.t.Errorf("ERROR message %q, want %q", got, message)
	}
	if string(f.Body) != body {
		c.t.Errorf("ERROR body %q, want %q", f.Body, body)
	}
	if ct := f.Header.Value("content-type"); ct != "text/plain" {
		c.t.Errorf("ERROR content-type %q, want text/plain", ct)
	}
	if got, ok := f.Header.Get("receipt-id"); got != receipt || ok != (receipt != "") {
		c.t.Errorf("ERROR receipt-id %q (present %v), want %q", got, ok, receipt)
	}
}

// expectClose reads until the connection ends and fails on any frame. Over
// WebSocket the close must carry wsCode; over TCP the end is EOF (or a
// reset when the server left the attacker's bytes unread).
func (c *badClient) expectClose(wsCode int) {
	c.t.Helper()
	f, err := c.r.ReadFrame()
	var ne net.Error
	var ce *websocket.CloseError
	switch {
	case err == nil:
		c.t.Fatalf("got %s %q %q, want the connection closed", f.Command, f.Header, f.Body)
	case errors.As(err, &ne) && ne.Timeout():
		c.t.Fatalf("connection still open after %s", badWait)
	case c.ws != nil:
		if !errors.As(err, &ce) || ce.Code != wsCode {
			c.t.Fatalf("WebSocket ended with %v, want close code %d", err, wsCode)
		}
	case err != io.EOF && !errors.Is(err, syscall.ECONNRESET):
		c.t.Fatalf("TCP ended with %v, want EOF", err)
	}
}

// badWSStream turns the server's WebSocket messages into one byte stream.
type badWSStream struct {
	ws  *websocket.Conn
	cur io.Reader
}

func (s *badWSStream) Read(p []byte) (int, error) {
	for {
		if s.cur == nil {
			_, r, err := s.ws.NextReader()
			if err != nil {
				return 0, err
			}
			s.cur = r
		}
		n, err := s.cur.Read(p)
		if err == io.EOF {
			s.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}
