package stomp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Handler is what the application implements. Every method except
// Disconnect runs on the connection's reader goroutine, so frames of one
// connection are handled in order; a returned error (a *Refusal for a clear
// message) becomes an ERROR frame and the connection closes.
type Handler interface {
	// Authenticate checks a CONNECT (or STOMP) frame and returns the user id.
	Authenticate(ctx context.Context, c *Conn, connect *Frame) (user string, err error)
	// Send handles a SEND. The returned headers are added to its RECEIPT.
	Send(ctx context.Context, c *Conn, f *Frame) (receipt Header, err error)
	// Subscribe starts a subscription. The handler may call s.Deliver from
	// any goroutine, including before Subscribe returns (backlog replay).
	Subscribe(ctx context.Context, s *Subscription) error
	// Unsubscribe ends a subscription (also called for each one at close).
	Unsubscribe(ctx context.Context, s *Subscription)
	// Ack acknowledges the Message.IDs listed, in delivery order. In ack mode
	// client the session has already expanded the ACK to every earlier
	// unacknowledged message of the subscription.
	Ack(ctx context.Context, s *Subscription, ids []string) error
	// Nack refuses the Message.IDs listed, expanded like Ack.
	Nack(ctx context.Context, s *Subscription, ids []string) error
	// Disconnect is called once, after the connection is closed and every
	// subscription has been unsubscribed.
	Disconnect(c *Conn)
}

// Observer receives counters; cmd/rcpd backs it with Prometheus metrics.
type Observer interface {
	ConnOpened(transport string)
	ConnClosed(transport string)
	FrameIn(cmd string)
	FrameOut(cmd string)
	Error(reason string)
}

type nopObserver struct{}

func (nopObserver) ConnOpened(string) {}
func (nopObserver) ConnClosed(string) {}
func (nopObserver) FrameIn(string)    {}
func (nopObserver) FrameOut(string)   {}
func (nopObserver) Error(string)      {}

// Config tunes sessions. Zero fields take the defaults of DefaultConfig.
type Config struct {
	Limits           Limits
	HeartbeatSend    time.Duration // how often the server offers to send heart-beats
	HeartbeatRecv    time.Duration // how often the server wants the client's
	HeartbeatGrace   float64       // silent for interval × grace (up to an eighth more) → closed (default 2)
	ConnectTimeout   time.Duration // time from accept to a complete CONNECT
	FrameTimeout     time.Duration // time from a frame's first byte to its NUL
	WriteTimeout     time.Duration // time to write one batch before the peer counts as stuck (up to an eighth more)
	OutboundQueue    int           // frames queued per connection before it is a slow consumer
	MaxSubscriptions int           // per connection
	MaxUnacked       int           // per connection, over all client/client-individual subscriptions
	MaxTransactions  int           // open at once per connection
	MaxTxFrames      int           // frames buffered in one transaction
	ServerName       string
	Logger           *slog.Logger
	Observer         Observer
}

// DefaultConfig returns the defaults documented in docs/protocol.md.
func DefaultConfig() Config {
	return Config{
		Limits:           DefaultLimits(),
		HeartbeatSend:    10 * time.Second,
		HeartbeatRecv:    10 * time.Second,
		HeartbeatGrace:   2,
		ConnectTimeout:   10 * time.Second,
		FrameTimeout:     30 * time.Second,
		WriteTimeout:     10 * time.Second,
		OutboundQueue:    256,
		MaxSubscriptions: 256,
		MaxUnacked:       4096,
		MaxTransactions:  16,
		MaxTxFrames:      1000,
		ServerName:       "rcp/0.1",
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Limits == (Limits{}) {
		c.Limits = d.Limits
	}
	setDefault(&c.HeartbeatGrace, d.HeartbeatGrace)
	setDefault(&c.ConnectTimeout, d.ConnectTimeout)
	setDefault(&c.FrameTimeout, d.FrameTimeout)
	setDefault(&c.WriteTimeout, d.WriteTimeout)
	setDefault(&c.OutboundQueue, d.OutboundQueue)
	setDefault(&c.MaxSubscriptions, d.MaxSubscriptions)
	setDefault(&c.MaxUnacked, d.MaxUnacked)
	setDefault(&c.MaxTransactions, d.MaxTransactions)
	setDefault(&c.MaxTxFrames, d.MaxTxFrames)
	setDefault(&c.ServerName, d.ServerName)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

func setDefault[T comparable](p *T, d T) {
	var zero T
	if *p == zero {
		*p = d
	}
}

// Server accepts STOMP connections over WebSocket (ServeHTTP) and TCP
// (ServeTCP) and runs a session for each.
type Server struct {
	cfg     Config
	handler Handler
	log     *slog.Logger

	mu        sync.Mutex
	conns     map[*Conn]struct{}
	listeners map[net.Listener]struct{}
	shutdown  bool
	wg        sync.WaitGroup
	nextID    uint64
}

// NewServer returns a server that hands frames to h.
func NewServer(h Handler, cfg Config) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:       cfg,
		handler:   h,
		log:       cfg.Logger,
		conns:     make(map[*Conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}
}

// register adds a connection; it fails once Shutdown has begun.
func (s *Server) register(c *Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return ErrServerShutdown
	}
	s.nextID++
	c.id = fmt.Sprintf("%x-%d", time.Now().UnixNano()&0xffffffff, s.nextID)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return nil
}

func (s *Server) unregister(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// ServeTCP accepts plain STOMP connections on ln until ln is closed or
// Shutdown is called.
func (s *Server) ServeTCP(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return ErrServerShutdown
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isShutdown() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return fmt.Errorf("stomp: accept: %w", err)
		}
		go s.serve(newTCPTransport(nc), "tcp")
	}
}

func (s *Server) isShutdown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

// serve runs one session to its end on the calling goroutine.
func (s *Server) serve(t transport, kind string) {
	c := newConn(s, t, kind)
	if err := s.register(c); err != nil {
		c.refuseAndClose(err)
		return
	}
	defer s.unregister(c)
	s.cfg.Observer.ConnOpened(kind)
	defer s.cfg.Observer.ConnClosed(kind)
	c.run()
}

// Shutdown stops accepting, sends every session an ERROR "server shutting
// down" and waits until they are closed or ctx ends, then closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(ErrServerShutdown)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.t.Close()
		}
		<-done
		return fmt.Errorf("stomp: shutdown: %w", ctx.Err())
	}
}

// ConnCount returns the number of open sessions.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
