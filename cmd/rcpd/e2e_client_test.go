package main_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/wsnet"
)

// frameWait bounds every wait of the raw client for the server.
const frameWait = 5 * time.Second

// errConnClosed is returned when the server closed the connection without
// an ERROR frame answering the request.
var errConnClosed = errors.New("connection closed by the server")

// rawClient is a STOMP 1.2 client over the WebSocket endpoint that shows
// every frame the server sends, RECEIPT headers included (go-stomp hides
// x-stream-id and x-seq). A reader goroutine routes frames: RECEIPTs (and
// ERRORs naming a receipt) to the request waiting for them, MESSAGEs to a
// large buffered channel, so the connection is always read.
//
// Methods ending in E return errors and may be called from any goroutine;
// the others fail the test and belong to the test goroutine.
type rawClient struct {
	t    *testing.T
	user string
	nc   net.Conn
	wmu  sync.Mutex
	seq  atomic.Int64

	msgs      chan *stomp.Frame
	connected chan *stomp.Frame
	done      chan struct{} // closed when the reader stops

	mu       sync.Mutex
	waiters  map[string]chan *stomp.Frame
	errFrame *stomp.Frame // the ERROR the server sent, if any
}

// dialRaw opens a WebSocket to n without sending CONNECT.
func dialRaw(ctx context.Context, n *node) (*rawClient, error) {
	nc, err := wsnet.Dial(ctx, n.wsURL())
	if err != nil {
		return nil, err
	}
	c := &rawClient{nc: nc, msgs: make(chan *stomp.Frame, 8192), connected: make(chan *stomp.Frame, 1),
		done: make(chan struct{}), waiters: make(map[string]chan *stomp.Frame)}
	go c.readLoop()
	return c, nil
}

// connectE sends CONNECT with the token as a bearer and returns the
// CONNECTED or ERROR frame the server answered with.
func (c *rawClient) connectE(token string) (*stomp.Frame, error) {
	err := c.write(stomp.NewFrame(stomp.CmdConnect, nil, "accept-version", "1.2", "host", "rcp",
		"heart-beat", "0,0", "Authorization", "Bearer "+token))
	if err != nil {
		return nil, err
	}
	select {
	case f := <-c.connected:
		return f, nil
	case <-c.done:
		if f := c.serverError(); f != nil {
			return f, nil
		}
		return nil, fmt.Errorf("CONNECT: %w", errConnClosed)
	case <-time.After(frameWait):
		return nil, fmt.Errorf("no answer to CONNECT within %v", frameWait)
	}
}

// rawConnectE dials n and connects as user with a valid token.
func (n *node) rawConnectE(ctx context.Context, user string) (*rawClient, error) {
	c, err := dialRaw(ctx, n)
	if err != nil {
		return nil, err
	}
	tok, err := mintToken(user, time.Hour)
	if err != nil {
		c.close()
		return nil, err
	}
	f, err := c.connectE(tok)
	if err != nil {
		c.close()
		return nil, err
	}
	if f.Command != stomp.CmdConnected {
		c.close()
		return nil, fmt.Errorf("CONNECT as %s: %s %q: %s", user, f.Command, f.Header.Value("message"), f.Body)
	}
	c.user = user
	return c, nil
}

// rawConnect is rawConnectE for the test goroutine; the connection is
// closed when the test ends.
func (n *node) rawConnect(user string) *rawClient {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	c, err := n.rawConnectE(ctx, user)
	if err != nil {
		n.t.Fatalf("%v\nrcpd log:\n%s", err, n.Log)
	}
	c.t = n.t
	n.t.Cleanup(c.close)
	return c
}

func (c *rawClient) readLoop() {
	defer close(c.done)
	r := stomp.NewReader(c.nc, stomp.DefaultLimits())
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return
		}
		switch f.Command {
		case stomp.CmdConnected:
			c.connected <- f
		case stomp.CmdMessage:
			c.msgs <- f
		case stomp.CmdReceipt:
			c.resolve(f.Header.Value("receipt-id"), f)
		case stomp.CmdError:
			c.mu.Lock()
			c.errFrame = f
			c.mu.Unlock()
			if id, ok := f.Header.Get("receipt-id"); ok {
				c.resolve(id, f)
			}
		}
	}
}

func (c *rawClient) resolve(id string, f *stomp.Frame) {
	c.mu.Lock()
	ch := c.waiters[id]
	delete(c.waiters, id)
	c.mu.Unlock()
	if ch != nil {
		ch <- f
	}
}

// serverError is the ERROR frame the server sent, or nil.
func (c *rawClient) serverError() *stomp.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errFrame
}

func (c *rawClient) write(f *stomp.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(frameWait))
	_, err := c.nc.Write(stomp.AppendFrame(nil, f, stomp.V12))
	return err
}

// pending is a request whose RECEIPT (or ERROR) has not arrived yet.
type pending struct {
	c  *rawClient
	id string
	ch chan *stomp.Frame
}

// requestAsync sends a frame with a new receipt header without waiting.
func (c *rawClient) requestAsync(cmd string, body []byte, kv ...string) (*pending, error) {
	id := "r-" + strconv.FormatInt(c.seq.Add(1), 10)
	p := &pending{c: c, id: id, ch: make(chan *stomp.Frame, 1)}
	c.mu.Lock()
	c.waiters[id] = p.ch
	c.mu.Unlock()
	f := stomp.NewFrame(cmd, body, kv...)
	f.Header.Add("receipt", id)
	if err := c.write(f); err != nil {
		return nil, fmt.Errorf("write %s: %w", cmd, err)
	}
	return p, nil
}

// wait returns the RECEIPT or the ERROR that answered the request.
func (p *pending) wait() (*stomp.Frame, error) {
	select {
	case f := <-p.ch:
		return f, nil
	case <-p.c.done:
		select {
		case f := <-p.ch:
			return f, nil
		default:
		}
		if f := p.c.serverError(); f != nil {
			return f, nil
		}
		return nil, errConnClosed
	case <-time.After(frameWait):
		return nil, fmt.Errorf("no RECEIPT %s within %v", p.id, frameWait)
	}
}

// requestE sends a frame with a receipt and waits for the answer.
func (c *rawClient) requestE(cmd string, body []byte, kv ...string) (*stomp.Frame, error) {
	p, err := c.requestAsync(cmd, body, kv...)
	if err != nil {
		return nil, err
	}
	return p.wait()
}

func (c *rawClient) request(cmd string, body []byte, kv ...string) *stomp.Frame {
	c.t.Helper()
	f, err := c.requestE(cmd, body, kv...)
	if err != nil {
		c.t.Fatalf("%s as %s: %v", cmd, c.user, err)
	}
	return f
}

// sendE sends a message to room with a receipt; kv are extra headers.
func (c *rawClient) sendE(room string, body []byte, kv ...string) (*stomp.Frame, error) {
	return c.requestE(stomp.CmdSend, body, append([]string{"destination", "/app/rooms/" + room,
		"content-type", "application/json"}, kv...)...)
}

// send sends a message and fails the test unless a RECEIPT answers it.
func (c *rawClient) send(room string, body []byte, kv ...string) *stomp.Frame {
	c.t.Helper()
	f, err := c.sendE(room, body, kv...)
	if err != nil {
		c.t.Fatalf("SEND to %s as %s: %v", room, c.user, err)
	}
	mustReceipt(c.t, f)
	return f
}

// subscribe subscribes to a room and fails the test unless it is receipted.
func (c *rawClient) subscribe(id, room, ack string, kv ...string) {
	c.t.Helper()
	f := c.request(stomp.CmdSubscribe, nil, append([]string{"id", id,
		"destination", "/topic/rooms/" + room, "ack", ack}, kv...)...)
	mustReceipt(c.t, f)
}

// ack acknowledges a MESSAGE and waits until the server handled it.
func (c *rawClient) ack(m *stomp.Frame) {
	c.t.Helper()
	mustReceipt(c.t, c.request(stomp.CmdAck, nil, "id", m.Header.Value("ack")))
}

// nack refuses a MESSAGE and waits until the server handled it.
func (c *rawClient) nack(m *stomp.Frame) {
	c.t.Helper()
	mustReceipt(c.t, c.request(stomp.CmdNack, nil, "id", m.Header.Value("ack")))
}

// nextE returns the next MESSAGE.
func (c *rawClient) nextE(wait time.Duration) (*stomp.Frame, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	default:
	}
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		if f := c.serverError(); f != nil {
			return nil, fmt.Errorf("ERROR %q: %s", f.Header.Value("message"), f.Body)
		}
		return nil, errConnClosed
	case <-time.After(wait):
		return nil, fmt.Errorf("no MESSAGE within %v", wait)
	}
}

// next returns the next MESSAGE or fails the test.
func (c *rawClient) next() *stomp.Frame {
	c.t.Helper()
	m, err := c.nextE(frameWait)
	if err != nil {
		c.t.Fatalf("%s: %v", c.user, err)
	}
	return m
}

// nextN returns the next n MESSAGEs.
func (c *rawClient) nextN(n int) []*stomp.Frame {
	c.t.Helper()
	return c.nextNWithin(n, frameWait)
}

// nextNWithin returns the next n MESSAGEs, waiting at most wait for each.
func (c *rawClient) nextNWithin(n int, wait time.Duration) []*stomp.Frame {
	c.t.Helper()
	out := make([]*stomp.Frame, n)
	for i := range out {
		m, err := c.nextE(wait)
		if err != nil {
			c.t.Fatalf("%s: message %d of %d: %v", c.user, i+1, n, err)
		}
		out[i] = m
	}
	return out
}

// close drops the connection without DISCONNECT.
func (c *rawClient) close() { c.nc.Close() }

// closedE waits until the server has closed the connection.
func (c *rawClient) closedE(wait time.Duration) error {
	select {
	case <-c.done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("connection still open after %v", wait)
	}
}

func mustReceipt(t *testing.T, f *stomp.Frame) {
	t.Helper()
	if f.Command != stomp.CmdReceipt {
		t.Fatalf("want RECEIPT, got %s message=%q: %s", f.Command, f.Header.Value("message"), f.Body)
	}
}

// streamIDs lists the x-stream-id headers of frames.
func streamIDs(fs []*stomp.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Header.Value("x-stream-id")
	}
	return out
}

// ackAsyncE acknowledges a MESSAGE without asking for a RECEIPT.
func (c *rawClient) ackAsyncE(m *stomp.Frame) error {
	return c.write(stomp.NewFrame(stomp.CmdAck, nil, "id", m.Header.Value("ack")))
}

// drain returns the MESSAGEs still readable once the server closed the
// connection (or after wait).
func (c *rawClient) drain(wait time.Duration) []*stomp.Frame {
	var out []*stomp.Frame
	for {
		m, err := c.nextE(wait)
		if err != nil {
			return out
		}
		out = append(out, m)
	}
}
