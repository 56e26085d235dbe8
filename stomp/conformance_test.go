package stomp_test

// Conformance with STOMP clients nobody here wrote: github.com/go-stomp/stomp
// over plain TCP and over WebSocket (conformance_gostomp_test.go), raw
// gorilla WebSocket framing (conformance_ws_test.go) and @stomp/stompjs under
// node (conformance_stompjs_test.go). This file is their shared harness: the
// server under test runs the in-memory topic handler on random ports.

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
	"github.com/rcp/rcp/stomp/wsnet"
)

const (
	confServerName = "rcp-conformance/1"
	// confWait bounds every wait for the server: a hang is a failure.
	confWait = 5 * time.Second
)

// confHandler is memtopic plus a record of the sessions the server opened
// and closed, so tests can wait for a session to end without polling.
type confHandler struct {
	*memtopic.Handler

	mu       sync.Mutex
	sessions map[string]*stomp.Conn // session id → conn, at CONNECT
	gone     map[string]bool        // session ids whose Disconnect ran
	changed  chan struct{}          // closed and replaced on each Disconnect
}

func newConfHandler() *confHandler {
	return &confHandler{
		Handler:  memtopic.New(),
		sessions: make(map[string]*stomp.Conn),
		gone:     make(map[string]bool),
		changed:  make(chan struct{}),
	}
}

func (h *confHandler) Authenticate(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (string, error) {
	user, err := h.Handler.Authenticate(ctx, c, f)
	if err == nil {
		h.mu.Lock()
		h.sessions[c.ID()] = c
		h.mu.Unlock()
	}
	return user, err
}

func (h *confHandler) Disconnect(c *stomp.Conn) {
	h.Handler.Disconnect(c)
	h.mu.Lock()
	h.gone[c.ID()] = true
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

// session returns the server side of a session id sent in CONNECTED.
func (h *confHandler) session(id string) *stomp.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessions[id]
}

// waitGone waits until done reports true for the recorded sessions.
func (h *confHandler) waitGone(t *testing.T, what string, done func(sessions map[string]*stomp.Conn, gone map[string]bool) bool) {
	t.Helper()
	timer := time.NewTimer(confWait)
	defer timer.Stop()
	for {
		h.mu.Lock()
		ok := done(h.sessions, h.gone)
		ch := h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			t.Fatalf("%s: server did not end the session(s) within %s", what, confWait)
		}
	}
}

// waitSessionGone waits for the server to finish session id (Disconnect ran,
// after every subscription was unsubscribed).
func (h *confHandler) waitSessionGone(t *testing.T, id string) {
	t.Helper()
	h.waitGone(t, "session "+id, func(_ map[string]*stomp.Conn, gone map[string]bool) bool {
		return gone[id]
	})
}

// waitAllGone waits until every session that connected has ended.
func (h *confHandler) waitAllGone(t *testing.T) {
	t.Helper()
	h.waitGone(t, "all sessions", func(sessions map[string]*stomp.Conn, gone map[string]bool) bool {
		for id := range sessions {
			if !gone[id] {
				return false
			}
		}
		return true
	})
}

// confObserver records the reasons of the server's errors.
type confObserver struct {
	mu      sync.Mutex
	reasons []string
}

func (o *confObserver) ConnOpened(string) {}
func (o *confObserver) ConnClosed(string) {}
func (o *confObserver) FrameIn(string)    {}
func (o *confObserver) FrameOut(string)   {}

func (o *confObserver) Error(reason string) {
	o.mu.Lock()
	o.reasons = append(o.reasons, reason)
	o.mu.Unlock()
}

func (o *confObserver) Reasons() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.reasons)
}

// confEnv is one server under test, reachable over one transport.
type confEnv struct {
	t         *testing.T
	h         *confHandler
	obs       *confObserver
	srv       *stomp.Server
	transport string // "tcp" or "ws"
	addr      string // tcp: host:port
	url       string // ws: ws://host:port/ws
}

// startConf starts a server on 127.0.0.1:0 for transport ("tcp" or "ws") and
// shuts it down when the test ends.
func startConf(t *testing.T, transport string, cfg stomp.Config) *confEnv {
	t.Helper()
	cfg.ServerName = confServerName
	obs := &confObserver{}
	cfg.Observer = obs
	h := newConfHandler()
	srv := stomp.NewServer(h, cfg)
	e := &confEnv{t: t, h: h, obs: obs, srv: srv, transport: transport}
	switch transport {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.addr = ln.Addr().String()
		served := make(chan error, 1)
		go func() { served <- srv.ServeTCP(ln) }()
		t.Cleanup(func() {
			shutdownConf(t, srv)
			select {
			case err := <-served:
				if err != nil {
					t.Errorf("ServeTCP: %v", err)
				}
			case <-time.After(confWait):
				t.Errorf("ServeTCP did not return after Shutdown")
			}
		})
	case "ws":
		hs := httptest.NewServer(confMux(h, srv))
		e.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
		t.Cleanup(func() {
			shutdownConf(t, srv)
			hs.Close()
		})
	default:
		t.Fatalf("unknown transport %q", transport)
	}
	return e
}

func shutdownConf(t *testing.T, srv *stomp.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), confWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// confState is what GET /conformance/state reports to the node client.
type confState struct {
	Acked       []string `json:"acked"`
	Nacked      []string `json:"nacked"`
	Subscribers int      `json:"subscribers"` // of ?dest=
	Sessions    int      `json:"sessions"`
}

// confMux serves the STOMP endpoint at /ws and, for clients in other
// processes, the handler's ACK ledger at /conformance/state.
func confMux(h *confHandler, srv *stomp.Server) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	mux.HandleFunc("GET /conformance/state", func(w http.ResponseWriter, r *http.Request) {
		st := confState{
			Acked:       append([]string{}, h.Acked()...),
			Nacked:      append([]string{}, h.Nacked()...),
			Subscribers: h.Subscribers(r.URL.Query().Get("dest")),
			Sessions:    srv.ConnCount(),
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	})
	return mux
}

// dialRaw opens the transport's byte stream (for WebSocket, through the
// wsnet adapter offering v12.stomp).
func (e *confEnv) dialRaw() net.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), confWait)
	defer cancel()
	if e.transport == "tcp" {
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", e.addr)
		if err != nil {
			e.t.Fatal(err)
		}
		return nc
	}
	nc, err := wsnet.Dial(ctx, e.url, "v12.stomp")
	if err != nil {
		e.t.Fatal(err)
	}
	return nc
}

// dial connects a go-stomp client as user. Every go-stomp wait is bounded;
// heart-beats are off unless opts turn them on.
func (e *confEnv) dial(user string, opts ...func(*gostomp.Conn) error) (*gostomp.Conn, *countingConn) {
	e.t.Helper()
	cc := &countingConn{Conn: e.dialRaw()}
	ctx, cancel := context.WithTimeout(context.Background(), confWait)
	defer cancel()
	all := append([]func(*gostomp.Conn) error{
		gostomp.ConnOpt.Login(user, "secret"),
		gostomp.ConnOpt.HeartBeat(0, 0),
		gostomp.ConnOpt.MsgSendTimeout(confWait),
		gostomp.ConnOpt.RcvReceiptTimeout(confWait),
		gostomp.ConnOpt.DisconnectReceiptTimeout(confWait),
		gostomp.ConnOpt.UnsubscribeReceiptTimeout(confWait),
		gostomp.ConnOpt.Logger(quietLogger{}),
	}, opts...)
	c, err := gostomp.ConnectWithContext(ctx, cc, all...)
	if err != nil {
		cc.Close()
		e.t.Fatalf("connect as %s over %s: %v", user, e.transport, err)
	}
	e.t.Cleanup(func() { c.MustDisconnect() })
	return c, cc
}

// within runs fn and fails the test if it does not return in confWait; it
// bounds go-stomp calls that wait without a timeout of their own.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(confWait):
		t.Fatalf("%s: no answer within %s", what, confWait)
	}
}

// roundTrip returns once the server has handled every frame c sent before
// it: BEGIN then ABORT with a receipt, which touches no handler state.
func roundTrip(t *testing.T, c *gostomp.Conn) {
	t.Helper()
	within(t, "round trip", func() error {
		tx, err := c.BeginWithError()
		if err != nil {
			return err
		}
		return tx.AbortWithReceipt()
	})
}

// recv returns the next message of sub, failing on an ERROR or a timeout.
func recv(t *testing.T, sub *gostomp.Subscription) *gostomp.Message {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription %s closed", sub.Id())
		}
		if m.Err != nil {
			t.Fatalf("subscription %s: %v (%s)", sub.Id(), m.Err, errBody(m.Err))
		}
		return m
	case <-time.After(confWait):
		t.Fatalf("subscription %s: no MESSAGE within %s", sub.Id(), confWait)
	}
	return nil
}

// recvError returns the ERROR frame that ended sub's connection.
func recvError(t *testing.T, sub *gostomp.Subscription) *frame.Frame {
	t.Helper()
	select {
	case m, ok := <-sub.C:
		if !ok {
			t.Fatalf("subscription %s closed without an ERROR", sub.Id())
		}
		f := errFrame(m.Err)
		if f == nil {
			t.Fatalf("want an ERROR frame, got message %q err %v", m.Body, m.Err)
		}
		return f
	case <-time.After(confWait):
		t.Fatalf("subscription %s: no ERROR within %s", sub.Id(), confWait)
	}
	return nil
}

// errFrame returns the ERROR frame behind a go-stomp error, or nil. go-stomp
// returns its Error by value from Send and by pointer on subscriptions.
func errFrame(err error) *frame.Frame {
	var se gostomp.Error
	if errors.As(err, &se) {
		return se.Frame
	}
	var pe *gostomp.Error
	if errors.As(err, &pe) {
		return pe.Frame
	}
	return nil
}

func errBody(err error) string {
	if f := errFrame(err); f != nil {
		return string(f.Body)
	}
	return ""
}

// quietLogger keeps go-stomp's logging out of test output (it may log after
// a test has ended, when t.Log would panic).
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any)   {}
func (quietLogger) Infof(string, ...any)    {}
func (quietLogger) Warningf(string, ...any) {}
func (quietLogger) Errorf(string, ...any)   {}
func (quietLogger) Debug(string)            {}
func (quietLogger) Info(string)             {}
func (quietLogger) Warning(string)          {}
func (quietLogger) Error(string)            {}
