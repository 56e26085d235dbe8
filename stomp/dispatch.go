package stomp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dispatch handles one client frame on the reader goroutine and sends its
// RECEIPT. An error ends the session (errClosed: already ending cleanly).
func (c *Conn) dispatch(f *Frame) error {
	if c.user == "" {
		if f.Command != CmdConnect && f.Command != CmdStomp {
			return errorf(ErrNotConnected, "got %s", f.Command)
		}
		return c.connect(f)
	}
	if barrier(f) {
		if err := c.acks.wait(c.ctx, c.closing); err != nil {
			return err
		}
	}
	if tx, ok := f.Header.Get("transaction"); ok && isTransactional(f.Command) {
		if err := c.buffer(tx, f); err != nil {
			return err
		}
		return c.receipt(f, nil)
	}
	extra, err := c.apply(f)
	if err != nil {
		return err
	}
	if err := c.receipt(f, extra); err != nil {
		return err
	}
	if f.Command == CmdDisconnect {
		c.beginClose(nil)
		return errClosed
	}
	return nil
}

func isTransactional(cmd string) bool {
	return cmd == CmdSend || cmd == CmdAck || cmd == CmdNack
}

// apply carries out a frame of a connected session (also a committed
// transaction's frames).
func (c *Conn) apply(f *Frame) (Header, error) {
	switch f.Command {
	case CmdSend:
		if _, ok := f.Header.Get("destination"); !ok {
			return nil, errorf(ErrMissingHeader, "SEND needs destination")
		}
		return c.srv.handler.Send(c.ctx, c, f)
	case CmdSubscribe:
		return nil, c.subscribe(f)
	case CmdUnsubscribe:
		return nil, c.unsubscribe(f)
	case CmdAck, CmdNack:
		return nil, c.ack(f)
	case CmdBegin, CmdCommit, CmdAbort:
		return nil, c.transaction(f)
	case CmdDisconnect:
		return nil, nil
	case CmdConnect, CmdStomp:
		return nil, ErrAlreadyConnected
	}
	return nil, errorf(ErrProtocol, "%s is a server frame", f.Command)
}

func (c *Conn) receipt(f *Frame, extra Header) error {
	id, ok := f.Header.Get("receipt")
	if !ok {
		return nil
	}
	if err := c.acks.wait(c.ctx, c.closing); err != nil {
		return err // a RECEIPT vouches for every ACK before it
	}
	r := &Frame{Command: CmdReceipt, Header: append(Header{{"receipt-id", id}}, extra...)}
	return c.enqueue(r)
}

func (c *Conn) connect(f *Frame) error {
	v, err := negotiateVersion(f.Header.Value("accept-version"))
	if err != nil {
		return err
	}
	cx, cy, err := parseHeartbeat(f.Header.Value("heart-beat"))
	if err != nil {
		return err
	}
	c.version.Store(int32(v))
	user, err := c.srv.handler.Authenticate(c.ctx, c, f)
	if err != nil {
		return err
	}
	if user == "" {
		return Refuse(ErrProtocol, "authentication failed", "no user")
	}
	sx, sy := c.srv.cfg.HeartbeatSend, c.srv.cfg.HeartbeatRecv
	if v >= V11 {
		if sx > 0 && cy > 0 {
			c.hbSend.Store(int64(max(sx, cy)))
		}
		if sy > 0 && cx > 0 {
			c.hbRecv = max(sy, cx)
		}
	}
	c.user = user
	connected := NewFrame(CmdConnected, nil,
		"version", v.String(),
		"server", c.srv.cfg.ServerName,
		"session", c.id,
		"user-name", user,
		"heart-beat", fmt.Sprintf("%d,%d", sx.Milliseconds(), sy.Milliseconds()))
	if err := c.enqueue(connected); err != nil {
		return err
	}
	return c.receipt(f, nil)
}

func negotiateVersion(accept string) (Version, error) {
	if accept == "" {
		return V10, nil
	}
	best := Version(0)
	for _, s := range strings.Split(accept, ",") {
		switch strings.TrimSpace(s) {
		case "1.0":
			best = max(best, V10)
		case "1.1":
			best = max(best, V11)
		case "1.2":
			best = max(best, V12)
		}
	}
	if best == 0 {
		return 0, Refuse(ErrUnsupported, "unsupported protocol version",
			fmt.Sprintf("accept-version %q; this server speaks 1.0, 1.1, 1.2", accept))
	}
	return best, nil
}

// parseHeartbeat parses "cx,cy" (milliseconds).
func parseHeartbeat(h string) (cx, cy time.Duration, err error) {
	if h == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(h, ",")
	x, errX := strconv.ParseUint(strings.TrimSpace(a), 10, 31)
	y, errY := strconv.ParseUint(strings.TrimSpace(b), 10, 31)
	if !ok || errX != nil || errY != nil {
		return 0, 0, errorf(ErrProtocol, "bad heart-beat header %q", h)
	}
	return time.Duration(x) * time.Millisecond, time.Duration(y) * time.Millisecond, nil
}

func (c *Conn) subscribe(f *Frame) error {
	dest, ok := f.Header.Get("destination")
	if !ok {
		return errorf(ErrMissingHeader, "SUBSCRIBE needs destination")
	}
	id, ok := f.Header.Get("id")
	if !ok {
		if c.Version() > V10 {
			return errorf(ErrMissingHeader, "SUBSCRIBE needs id")
		}
		id = dest
	}
	mode, ok := parseAckMode(f.Header.Value("ack"))
	if !ok {
		return errorf(ErrProtocol, "ack mode %q", f.Header.Value("ack"))
	}
	c.mu.Lock()
	if _, dup := c.subs[id]; dup {
		c.mu.Unlock()
		return errorf(ErrDuplicateSub, "%q", id)
	}
	if len(c.subs) >= c.srv.cfg.MaxSubscriptions {
		c.mu.Unlock()
		return errorf(ErrTooManySubs, "at most %d", c.srv.cfg.MaxSubscriptions)
	}
	s := c.newSubscription(f, id, mode)
	c.subs[id] = s
	c.mu.Unlock()
	if err := c.srv.handler.Subscribe(c.ctx, s); err != nil {
		c.removeSub(s)
		return err
	}
	return nil
}

func (c *Conn) unsubscribe(f *Frame) error {
	id, ok := f.Header.Get("id")
	if !ok && c.Version() == V10 {
		id, ok = f.Header.Get("destination")
	}
	if !ok {
		return errorf(ErrMissingHeader, "UNSUBSCRIBE needs id")
	}
	c.mu.Lock()
	s := c.subs[id]
	c.mu.Unlock()
	if s == nil {
		return errorf(ErrUnknownSub, "%q", id)
	}
	c.removeSub(s)
	c.srv.handler.Unsubscribe(c.ctx, s)
	return nil
}

// removeSub deactivates s and forgets its unacknowledged messages (they
// stay unacknowledged for the application).
func (c *Conn) removeSub(s *Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.active = false
	delete(c.subs, s.ID)
	for _, u := range s.unacked {
		delete(c.pending, u.ackID)
	}
	s.unacked = nil
}

func (c *Conn) unsubscribeAll() {
	c.mu.Lock()
	subs := make([]*Subscription, 0, len(c.subs))
	for _, s := range c.subs {
		subs = append(subs, s)
	}
	c.mu.Unlock()
	ctx := context.WithoutCancel(c.ctx)
	for _, s := range subs {
		c.removeSub(s)
		c.srv.handler.Unsubscribe(ctx, s)
	}
}

func (c *Conn) ack(f *Frame) error {
	key := "id"
	if c.Version() < V12 {
		key = "message-id"
	}
	ackID, ok := f.Header.Get(key)
	if !ok {
		return errorf(ErrMissingHeader, "%s needs %s", f.Command, key)
	}
	c.mu.Lock()
	s := c.pending[ackID]
	var ids []string
	found := false
	if s != nil {
		ids, found = s.take(ackID)
	}
	c.mu.Unlock()
	if !found {
		return errorf(ErrUnknownAck, "%q", ackID)
	}
	if len(ids) == 0 {
		return nil // only settled messages
	}
	if f.Command == CmdNack {
		return c.srv.handler.Nack(c.ctx, s, ids)
	}
	if a, ok := c.srv.handler.(AsyncAcker); ok {
		c.ackAsync(a, s, ids)
		return nil
	}
	return c.srv.handler.Ack(c.ctx, s, ids)
}

func (c *Conn) transaction(f *Frame) error {
	tx, ok := f.Header.Get("transaction")
	if !ok {
		return errorf(ErrMissingHeader, "%s needs transaction", f.Command)
	}
	frames, open := c.tx[tx]
	switch f.Command {
	case CmdBegin:
		if open {
			return errorf(ErrDuplicateTx, "%q", tx)
		}
		if len(c.tx) >= c.srv.cfg.MaxTransactions {
			return errorf(ErrTooManyTx, "at most %d open", c.srv.cfg.MaxTransactions)
		}
		if c.tx == nil {
			c.tx = make(map[string][]*Frame)
		}
		c.tx[tx] = nil
		return nil
	case CmdAbort:
		if !open {
			return errorf(ErrUnknownTx, "%q", tx)
		}
		delete(c.tx, tx)
		return nil
	}
	if !open {
		return errorf(ErrUnknownTx, "%q", tx)
	}
	delete(c.tx, tx)
	for _, bf := range frames {
		if _, err := c.apply(bf); err != nil {
			return fmt.Errorf("commit %q: %w", tx, err)
		}
	}
	return nil
}

func (c *Conn) buffer(tx string, f *Frame) error {
	frames, open := c.tx[tx]
	if !open {
		return errorf(ErrUnknownTx, "%q", tx)
	}
	if len(frames) >= c.srv.cfg.MaxTxFrames {
		return errorf(ErrTooManyTx, "at most %d frames in one transaction", c.srv.cfg.MaxTxFrames)
	}
	c.tx[tx] = append(frames, f)
	return nil
}
