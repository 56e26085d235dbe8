package stomp_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

// hookHandler is memtopic with its sessions handed to the test.
type hookHandler struct {
	*memtopic.Handler
	conns chan *stomp.Conn // every authenticated session
	gone  chan *stomp.Conn // every Disconnect
}

func newHookHandler() *hookHandler {
	return &hookHandler{Handler: memtopic.New(),
		conns: make(chan *stomp.Conn, 16), gone: make(chan *stomp.Conn, 16)}
}

func (h *hookHandler) Authenticate(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (string, error) {
	user, err := h.Handler.Authenticate(ctx, c, f)
	if err == nil {
		h.conns <- c
	}
	return user, err
}

func (h *hookHandler) Disconnect(c *stomp.Conn) { h.gone <- c }

func recvConn(t *testing.T, ch chan *stomp.Conn, what string) *stomp.Conn {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(sessWait):
		t.Fatalf("no %s within %s", what, sessWait)
		return nil
	}
}

func TestSessionShutdown(t *testing.T) {
	h := newHookHandler()
	s := startSess(t, h, stomp.Config{HeartbeatSend: time.Hour, HeartbeatRecv: time.Hour})
	var clients []*sessClient
	for _, kind := range sessTransports {
		c := s.dial(t, kind)
		c.connect("ann", "heart-beat", "1000,1000")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
		recvConn(t, h.conns, "session")
		clients = append(clients, c)
	}
	early := s.dial(t, "ws") // connected, no CONNECT yet
	clients = append(clients, early)
	s.obs.waitFor(t, "3 sessions", func() bool { return s.srv.ConnCount() == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), sessWait)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := s.srv.ConnCount(); n != 0 {
		t.Errorf("%d sessions left after Shutdown returned", n)
	}
	for _, c := range clients {
		c.expectError("server shutting down")
	}
	for range 2 {
		recvConn(t, h.gone, "Disconnect")
	}
	if n := h.Subscribers("/topic/a"); n != 0 {
		t.Errorf("%d subscriptions left", n)
	}

	// No new sessions on either transport.
	d := websocket.Dialer{HandshakeTimeout: sessWait}
	_, resp, err := d.Dial(s.wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Errorf("WebSocket upgrade after Shutdown: status %d, err %v; want 503", status, err)
	}
	if nc, err := net.DialTimeout("tcp", s.tcp, sessWait); err == nil {
		nc.Close()
		t.Error("TCP listener still accepts after Shutdown")
	}
}

// TestSessionShutdownDeadline: a session whose writer is stuck on a client
// that does not read is closed when Shutdown's context ends.
func TestSessionShutdownDeadline(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{OutboundQueue: 1024})
		stuck := s.dial(t, kind)
		stuck.connect("stuck")
		stuck.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/big", "id", "0")
		shrinkReadBuffer(t, stuck)
		pub := s.dial(t, kind)
		pub.connect("pub")
		body := strings.Repeat("z", 64<<10)
		// More than the kernel buffers: the writer blocks.
		for range kernelSendBuffer()/len(body) + 32 {
			pub.callQuiet(stomp.CmdSend, body, "destination", "/topic/big")
		}
		if n := s.obs.Errors(slowReason); n != 0 {
			t.Fatalf("the stuck client was dropped as a slow consumer; raise OutboundQueue")
		}

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := s.srv.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want the context's deadline", err)
		}
		if took := time.Since(start); took > sessWait {
			t.Errorf("Shutdown took %s", took)
		}
		if n := s.srv.ConnCount(); n != 0 {
			t.Errorf("%d sessions left after Shutdown returned", n)
		}
		pub.expectError("server shutting down")
	})
}

func TestSessionCloseFromApplication(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := newHookHandler()
		s := startSess(t, h, stomp.Config{})
		c := s.dial(t, kind)
		cf := c.connect("ann")
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
		other := s.dial(t, kind)
		other.connect("bob")

		conn := recvConn(t, h.conns, "session")
		recvConn(t, h.conns, "second session")
		if conn.User() != "ann" || conn.Transport() != kind || conn.ID() != cf.Header.Value("session") || conn.RemoteAddr() == "" {
			t.Errorf("Conn: user %q transport %q id %q (CONNECTED session %q) remote %q",
				conn.User(), conn.Transport(), conn.ID(), cf.Header.Value("session"), conn.RemoteAddr())
		}
		conn.Close("token revoked")
		f := c.expectError("token revoked")
		if len(f.Body) != 0 {
			t.Errorf("ERROR body %q, want none", f.Body)
		}
		if gone := recvConn(t, h.gone, "Disconnect"); gone != conn {
			t.Errorf("Disconnect for %s, want %s", gone.ID(), conn.ID())
		}
		select {
		case <-conn.Context().Done():
		default:
			t.Error("Conn.Context not cancelled after Disconnect")
		}
		if n := h.Subscribers("/topic/a"); n != 0 {
			t.Errorf("%d subscriptions left", n)
		}
		conn.Close("again") // harmless once closed
		// Other sessions are not affected.
		other.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
	})
}
