package stomp

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is one client session. Its reader goroutine decodes frames and calls
// the Handler; its writer goroutine drains a bounded queue of outbound
// frames and sends heart-beats. Nothing else writes to the transport.
type Conn struct {
	srv  *Server
	t    transport
	kind string
	id   string
	ctx  context.Context
	stop context.CancelFunc

	// Set during CONNECT by the reader goroutine, read-only afterwards.
	user   string
	hbRecv time.Duration // client → server interval the server checks, 0 = none
	// Read by other goroutines (writer, Shutdown, deliveries).
	version atomic.Int32
	hbSend  atomic.Int64 // server → client heart-beat interval in ns, 0 = none

	out      outQueue
	batch    []outFrame   // writer only: frames taken from out
	writeDL  lazyDeadline // writer only
	written  []func()     // writer only: callbacks of frames written since the last flush
	closing  chan struct{}
	once     sync.Once
	final    atomic.Pointer[finalFrame]
	writerWG sync.WaitGroup

	// frameDeadline bounds the frame being read (unix nanos, 0 = none).
	frameDeadline atomic.Int64

	mu      sync.Mutex // guards subs, pending, subSeq
	subs    map[string]*Subscription
	pending map[string]*Subscription // ack id → subscription
	subSeq  int

	tx map[string][]*Frame // reader goroutine only

	acks inflightAcks // ACKs handed to an AsyncAcker

	value atomic.Value // application data
}

type finalFrame struct {
	frame   []byte // ERROR frame or nil for a clean close
	discard bool   // drop queued frames (slow consumer)
}

func newConn(s *Server, t transport, kind string) *Conn {
	ctx, stop := context.WithCancel(context.Background())
	c := &Conn{
		srv: s, t: t, kind: kind, ctx: ctx, stop: stop,
		out:     outQueue{max: s.cfg.OutboundQueue, ready: make(chan struct{}, 1)},
		closing: make(chan struct{}),
		subs:    make(map[string]*Subscription),
		pending: make(map[string]*Subscription),
	}
	c.version.Store(int32(V12))
	return c
}

// ID is the session id sent in CONNECTED.
func (c *Conn) ID() string { return c.id }

// User is the id Authenticate returned; empty before CONNECT.
func (c *Conn) User() string { return c.user }

// Version is the negotiated protocol version.
func (c *Conn) Version() Version { return Version(c.version.Load()) }

// Transport is "ws" or "tcp".
func (c *Conn) Transport() string { return c.kind }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() string { return c.t.RemoteAddr() }

// Context is cancelled when the connection closes.
func (c *Conn) Context() context.Context { return c.ctx }

// SetValue attaches application data to the connection.
func (c *Conn) SetValue(v any) { c.value.Store(&v) }

// Value returns what SetValue stored, or nil.
func (c *Conn) Value() any {
	if p, ok := c.value.Load().(*any); ok {
		return *p
	}
	return nil
}

// Close ends the session with an ERROR frame carrying msg, for the
// application (a revoked token, a kicked user).
func (c *Conn) Close(msg string) { c.fail(Refuse(ErrConnectionClosing, msg, "")) }

func (c *Conn) run() {
	c.writerWG.Add(1)
	go c.writeLoop()
	c.readLoop()
	c.beginClose(nil)
	c.writerWG.Wait()
	c.stop()
	c.unsubscribeAll()
	c.srv.handler.Disconnect(c)
}

// readLoop decodes frames until the transport fails or the session closes.
func (c *Conn) readLoop() {
	r := NewReader(&deadlineReader{c: c}, c.srv.cfg.Limits)
	r.FrameStarted = func() {
		if c.frameDeadline.Load() == 0 {
			c.frameDeadline.Store(time.Now().Add(c.srv.cfg.FrameTimeout).UnixNano())
		}
	}
	c.frameDeadline.Store(time.Now().Add(c.srv.cfg.ConnectTimeout).UnixNano())
	for {
		f, err := r.ReadFrame()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.frameDeadline.Store(0)
		c.srv.cfg.Observer.FrameIn(f.Command)
		if err := c.dispatch(f); err != nil {
			if !errors.Is(err, errClosed) {
				c.failFrame(err, f)
			}
			return
		}
		r.Version = c.Version()
	}
}

func (c *Conn) readFailed(err error) {
	select {
	case <-c.closing:
		return // we closed it
	default:
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		c.beginClose(nil)
	case errors.As(err, &ne) && ne.Timeout():
		switch {
		case c.frameDeadline.Load() == 0:
			c.fail(errorf(ErrHeartbeatTimeout, "expected every %s", c.hbRecv))
		case c.user == "": // the deadline was ConnectTimeout, from accept
			c.fail(errorf(ErrFrameTimeout, "CONNECT within %s", c.srv.cfg.ConnectTimeout))
		default:
			c.fail(errorf(ErrFrameTimeout, "within %s", c.srv.cfg.FrameTimeout))
		}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET): // the client vanished
		c.srv.cfg.Observer.Error("unexpected_eof")
		c.beginClose(nil)
	default:
		c.fail(err)
	}
}

// deadlineReader keeps the transport's read deadline at the earlier of the
// heart-beat grace and the current frame's deadline. The heart-beat one may
// run up to an eighth late (lazyDeadline): a busy connection re-arms its
// timer a few times per grace period, not on every read.
type deadlineReader struct {
	c  *Conn
	dl lazyDeadline
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	var want time.Time
	var slack time.Duration
	if c.hbRecv > 0 {
		wait := time.Duration(float64(c.hbRecv) * c.srv.cfg.HeartbeatGrace)
		want, slack = time.Now().Add(wait), wait/8
	}
	if fd := c.frameDeadline.Load(); fd != 0 && (want.IsZero() || fd < want.UnixNano()) {
		want, slack = time.Unix(0, fd), 0
	}
	if at, ok := d.dl.next(want, slack); ok {
		c.t.SetReadDeadline(at)
	}
	return c.t.Read(p)
}

// lazyDeadline is a deadline kept within [want, want+slack] rather than at
// want: setting one re-arms a runtime timer, which costs as much as a small
// read.
type lazyDeadline struct{ at time.Time }

// next returns the deadline to set for want (zero: none) and true, or false
// when the one already set is within slack after want.
func (d *lazyDeadline) next(want time.Time, slack time.Duration) (time.Time, bool) {
	switch {
	case want.IsZero():
		if d.at.IsZero() {
			return d.at, false
		}
	case !d.at.IsZero() && !d.at.Before(want) && d.at.Sub(want) <= slack:
		return d.at, false
	default:
		want = want.Add(slack)
	}
	d.at = want
	return want, true
}

// enqueue queues an encoded frame. A full queue means the client does not
// read fast enough: it is disconnected rather than allowed to grow memory.
func (c *Conn) enqueue(f *Frame) error {
	return c.enqueueEncoded(outFrame{b: AppendFrame(nil, f, c.Version())}, f.Command)
}

// outFrame is an encoded frame and what to call once it is on the wire.
type outFrame struct {
	b       []byte
	written func()
}

func (c *Conn) enqueueEncoded(b outFrame, cmd string) error {
	select {
	case <-c.closing:
		return errClosed
	default:
	}
	if !c.out.push(b) {
		c.failSlow()
		return ErrSlowConsumer
	}
	c.srv.cfg.Observer.FrameOut(cmd)
	return nil
}

// outQueue is the bounded queue of encoded frames between the goroutines
// that produce them and the writer. Unlike a buffered channel, which costs
// OutboundQueue × 32 bytes for the connection's whole life (8 KiB at the
// default 256), it holds next to nothing while idle.
type outQueue struct {
	mu     sync.Mutex
	frames []outFrame // queued, not yet taken by the writer
	n      int        // frames queued or taken and not yet written: at most max
	max    int
	ready  chan struct{} // capacity 1: frames were queued since the last take
}

// push queues f, or reports false when max frames are already held.
func (q *outQueue) push(f outFrame) bool {
	q.mu.Lock()
	if q.n >= q.max {
		q.mu.Unlock()
		return false
	}
	q.frames = append(q.frames, f)
	q.n++
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns the queued frames and keeps spare, emptied, as the queue's
// next backing array: the writer and the queue swap two slices.
func (q *outQueue) take(spare []outFrame) []outFrame {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken := q.frames
	q.frames = spare[:0]
	return taken
}

// release gives back the room of n taken frames once they are written.
func (q *outQueue) release(n int) {
	q.mu.Lock()
	q.n -= n
	q.mu.Unlock()
}

var errClosed = errors.New("connection closed")

// writeLoop writes queued frames, batching what is ready, and sends a
// heart-beat when nothing else was written for hbSend.
func (c *Conn) writeLoop() {
	defer c.writerWG.Done()
	var hb <-chan time.Time
	var timer *time.Timer
	var every time.Duration
	for {
		if timer == nil {
			if every = time.Duration(c.hbSend.Load()); every > 0 {
				timer = time.NewTimer(every)
				hb = timer.C
			}
		}
		select {
		case <-c.out.ready:
			n, ok := c.writeQueued()
			if !ok {
				return
			}
			if n == 0 {
				continue // frames taken by the previous round
			}
		case <-hb:
			if !c.write(outFrame{b: []byte{'\n'}}) || !c.flush() {
				return
			}
		case <-c.closing:
			c.finish()
			return
		}
		if timer != nil {
			timer.Reset(every)
		}
	}
}

// writeQueued writes frames until the queue is empty, then flushes; n is
// how many it wrote.
func (c *Conn) writeQueued() (n int, ok bool) {
	for {
		c.batch = c.out.take(c.batch)
		if len(c.batch) == 0 {
			break
		}
		for _, f := range c.batch {
			if !c.write(f) {
				return n, false
			}
		}
		n += len(c.batch)
		c.out.release(len(c.batch))
		clear(c.batch) // let the frames go
		if cap(c.batch) > 16 {
			c.batch = nil // an idle connection keeps no burst-sized array
		}
	}
	if n == 0 {
		return 0, true
	}
	return n, c.flush()
}

func (c *Conn) write(f outFrame) bool {
	wt := c.srv.cfg.WriteTimeout
	if at, ok := c.writeDL.next(time.Now().Add(wt), wt/8); ok {
		c.t.SetWriteDeadline(at)
	}
	if err := c.t.WriteFrame(f.b); err != nil {
		c.abort()
		return false
	}
	if f.written != nil {
		c.written = append(c.written, f.written)
	}
	return true
}

// flush flushes the transport, then calls the written callbacks of the
// frames it carried.
func (c *Conn) flush() bool {
	if err := c.t.Flush(); err != nil {
		c.abort()
		return false
	}
	for i, fn := range c.written {
		fn()
		c.written[i] = nil
	}
	c.written = c.written[:0]
	return true
}

// finish writes what is queued (unless discarded) and the final frame, then
// closes the transport.
func (c *Conn) finish() {
	ff := c.final.Load()
	if ff == nil || !ff.discard {
		for _, f := range c.out.take(nil) {
			if !c.write(f) {
				return
			}
		}
	}
	if ff != nil && ff.frame != nil {
		c.write(outFrame{b: ff.frame})
	}
	c.flush()
	c.t.CloseWrite()
	c.t.Close()
}

// abort closes the transport after a write failure.
func (c *Conn) abort() {
	c.beginClose(nil)
	c.t.Close()
}

// beginClose starts closing once: the writer flushes and closes the
// transport, which ends the reader.
func (c *Conn) beginClose(ff *finalFrame) {
	c.once.Do(func() {
		if ff != nil {
			c.final.Store(ff)
		}
		close(c.closing)
	})
}
