package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/wsnet"
)

// client is a lean STOMP 1.2 client on one WebSocket: frames are encoded
// with stomp.AppendFrame and decoded with stomp.Reader, one goroutine reads,
// writers share a mutex. Measured against go-stomp over wsnet (TestClientCost):
// 1 goroutine, 19 KiB and 41 µs of CPU per delivery instead of 4 goroutines,
// 34 KiB and 72 µs; at thousands of connections on the server's own cores
// the benchmark must stay cheap.
type client struct {
	idx, room int
	user      string
	ws        *wsnet.Conn
	r         *stomp.Reader

	wmu  sync.Mutex
	wbuf []byte

	window chan struct{} // one token per unreceipted SEND
	closed chan struct{} // the reader ended
	err    error         // why, once closed is closed
}

// dial opens the WebSocket and completes CONNECT.
func dial(ctx context.Context, url, user, token string, idx, room, window int, hb time.Duration) (*client, error) {
	ws, err := wsnet.Dial(ctx, url, "v12.stomp")
	if err != nil {
		return nil, err
	}
	c := &client{idx: idx, room: room, user: user, ws: ws,
		r:      stomp.NewReader(ws, stomp.DefaultLimits()),
		window: make(chan struct{}, max(window, 1)), closed: make(chan struct{})}
	if dl, ok := ctx.Deadline(); ok {
		ws.SetReadDeadline(dl)
	}
	err = c.write(stomp.NewFrame(stomp.CmdConnect, nil, "accept-version", "1.2", "host", "rcp",
		"heart-beat", heartBeat(hb), "Authorization", "Bearer "+token))
	if err == nil {
		err = c.expect(stomp.CmdConnected)
	}
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	ws.SetReadDeadline(time.Time{})
	return c, nil
}

// heartBeat is the CONNECT header offering and asking for beats every hb.
func heartBeat(hb time.Duration) string {
	ms := strconv.FormatInt(hb.Milliseconds(), 10)
	return ms + "," + ms
}

// beat writes a heart-beat (an EOL between frames).
func (c *client) beat() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.ws.Write([]byte{'\n'})
	return err
}

// beatEvery sends a heart-beat every interval until the connection ends.
func (c *client) beatEvery(every time.Duration) {
	if every <= 0 {
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if c.beat() != nil {
				return
			}
		case <-c.closed:
			return
		}
	}
}

// expect reads one frame during the handshake.
func (c *client) expect(cmd string) error {
	f, err := c.r.ReadFrame()
	if err != nil {
		return err
	}
	if f.Command != cmd {
		return fmt.Errorf("got %s (%s), want %s", f.Command, f.Header.Value("message"), cmd)
	}
	return nil
}

func (c *client) write(f *stomp.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = stomp.AppendFrame(c.wbuf[:0], f, stomp.V12)
	_, err := c.ws.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	return err
}

// subscribe subscribes to the client's room and waits for the receipt, so
// the subscription is live (its backlog replayed) when it returns.
func (c *client) subscribe(ctx context.Context, dest, ack string) error {
	if dl, ok := ctx.Deadline(); ok {
		c.ws.SetReadDeadline(dl)
		defer c.ws.SetReadDeadline(time.Time{})
	}
	if err := c.write(stomp.NewFrame(stomp.CmdSubscribe, nil, "id", "0", "destination", dest,
		"ack", ack, "receipt", "sub")); err != nil {
		return err
	}
	return c.expect(stomp.CmdReceipt)
}

// acquire takes a window token: one per unreceipted SEND, given back by
// its RECEIPT.
func (c *client) acquire(ctx context.Context) error {
	select {
	case c.window <- struct{}{}:
		return nil
	case <-c.closed:
		return fmt.Errorf("connection closed: %w", c.err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// send writes one SEND of message id, asking a receipt "m<id>" if told.
func (c *client) send(dest string, body []byte, id int64, receipt bool) error {
	f := stomp.NewFrame(stomp.CmdSend, body, "destination", dest, "content-type", "application/json")
	if receipt {
		f.Header.Add("receipt", "m"+strconv.FormatInt(id, 10))
	}
	return c.write(f)
}

// disconnect sends DISCONNECT with a receipt and waits for the reader to
// see it: every earlier frame (ACKs included) has then been handled.
func (c *client) disconnect(ctx context.Context) error {
	defer c.ws.Close()
	if err := c.write(stomp.NewFrame(stomp.CmdDisconnect, nil, "receipt", "bye")); err != nil {
		return err
	}
	select {
	case <-c.closed:
		if errors.Is(c.err, errBye) {
			return nil
		}
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errBye = errors.New("disconnected")
