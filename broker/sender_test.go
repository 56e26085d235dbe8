package broker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
)

// pipelineSizes records the length of every pipeline a client runs.
type pipelineSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (p *pipelineSizes) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipelineSizes) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *pipelineSizes) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		p.mu.Lock()
		p.sizes = append(p.sizes, len(cmds))
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (p *pipelineSizes) max() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := 0
	for _, n := range p.sizes {
		m = max(m, n)
	}
	return m
}

func TestSenderSharesPipelinesAndKeepsSendsGuarantees(t *testing.T) {
	ctx := context.Background()
	b := newBroker(t)
	hook := &pipelineSizes{}
	b.Redis().AddHook(hook)
	const rooms, perRoom = 10, 5
	for r := range rooms {
		mustJoin(t, b, fmt.Sprintf("r%d", r), "alice", "bob", "carol")
	}
	s := b.NewSender(broker.SenderConfig{Flushers: 2, Batch: 16})
	body := []byte(`{"type":"text","text":"x"}`)

	// Queued before Run: the first flushes take up to 16 calls each.
	var wg sync.WaitGroup
	results := make([][]broker.SendResult, rooms)
	errs := make(chan error, rooms)
	for r := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perRoom {
				// Each room's sender waits for one reply before the next
				// SEND, as a STOMP connection does.
				res, err := s.Send(ctx, broker.SendRequest{Room: fmt.Sprintf("r%d", r), Sender: "alice",
					Type: "text", Body: body, ClientID: fmt.Sprintf("c%d", i)})
				if err != nil {
					errs <- err
					return
				}
				results[r] = append(results[r], res)
			}
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Queued() < rooms && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go s.Run(runCtx)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m := hook.max(); m < 2 {
		t.Fatalf("largest pipeline %d: calls of concurrent senders were not shared", m)
	}
	for r := range rooms {
		room := fmt.Sprintf("r%d", r)
		var ids []string
		for i, res := range results[r] {
			if res.Seq != int64(i+1) || res.Duplicate {
				t.Fatalf("%s send %d: %+v, want seq %d", room, i, res, i+1)
			}
			ids = append(ids, res.ID)
		}
		for _, u := range []string{"bob", "carol"} {
			if got := pendingIDs(t, b, room, u); strings.Join(got, ",") != strings.Join(ids, ",") {
				t.Fatalf("%s: %s pending %v, want %v", room, u, got, ids)
			}
		}
		if got := pendingIDs(t, b, room, "alice"); len(got) != 0 {
			t.Fatalf("%s: sender has pending %v", room, got)
		}
	}

	// Client ids deduplicate, errors map as with Broker.Send.
	res, err := s.Send(ctx, broker.SendRequest{Room: "r0", Sender: "alice", Type: "text", Body: body, ClientID: "c2"})
	if err != nil || !res.Duplicate || res.ID != results[0][2].ID || res.Seq != 3 {
		t.Fatalf("resend of c2: %+v %v, want the duplicate of %+v", res, err, results[0][2])
	}
	if _, err := s.Send(ctx, broker.SendRequest{Room: "r0", Sender: "mallory", Type: "text", Body: body}); !errors.Is(err, broker.ErrNotMember) {
		t.Fatalf("non-member: %v", err)
	}
	if _, err := s.Send(ctx, broker.SendRequest{Room: "r 0", Sender: "alice", Type: "text", Body: body}); !errors.Is(err, broker.ErrBadID) {
		t.Fatalf("bad room id: %v", err)
	}
}

func TestSenderIsBoundedByItsContext(t *testing.T) {
	b := newBroker(t)
	mustJoin(t, b, "r1", "alice", "bob")
	s := b.NewSender(broker.SenderConfig{}) // not running: nothing flushes
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := broker.SendRequest{Room: "r1", Sender: "alice", Type: "text", Body: []byte(`{}`)}
	if _, err := s.Send(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send without Run: %v", err)
	}
	// The abandoned call is dropped unsent once a flusher sees it.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.Run(runCtx)
	res, err := s.Send(context.Background(), req)
	if err != nil || res.Seq != 1 {
		t.Fatalf("send after Run: %+v %v, want seq 1 (the abandoned call never ran)", res, err)
	}
}

// lossyProxy forwards TCP to Redis; once armed, it forwards the next
// request holding rcp_send, lets Redis run it, and closes the connection
// without passing the reply on: the reply is lost after the call ran.
type lossyProxy struct {
	ln       net.Listener
	upstream string
	armed    atomic.Bool
	fired    atomic.Int32
}

func newLossyProxy(t *testing.T, upstream string) *lossyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{ln: ln, upstream: upstream}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.handle(c)
		}
	}()
	return p
}

func (p *lossyProxy) handle(c net.Conn) {
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		c.Close()
		return
	}
	defer c.Close()
	defer u.Close()
	var drop atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := u.Read(buf)
			if n > 0 && !drop.Load() {
				if _, werr := c.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if bytes.Contains(buf[:n], []byte("rcp_send")) && p.armed.CompareAndSwap(true, false) {
				drop.Store(true)
				_, _ = u.Write(buf[:n])
				time.Sleep(200 * time.Millisecond) // Redis runs it; the reply goes nowhere
				p.fired.Add(1)
				return
			}
			if _, werr := u.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A reply lost after rcp_send ran must not make go-redis run it again:
// the message would be stored twice. Broker.Send and Sender.Send alike
// return the error and leave the retry to the client (x-client-id).
func TestSendIsNotResentAfterALostReply(t *testing.T) {
	url := brokertest.URL(t)
	if strings.Contains(url, ",") {
		t.Skip("the proxy stands for one Redis; the Cluster path runs the same NoRetry check per node")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	direct := newBroker(t) // loads the functions
	p := newLossyProxy(t, opt.Addr)
	rdb, err := broker.Dial(fmt.Sprintf("redis://%s/%d", p.ln.Addr(), opt.DB), 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	cfg := broker.DefaultConfig()
	cfg.Partitions, cfg.Prefix = 4, direct.Prefix()
	b := broker.New(rdb, cfg)
	s := b.NewSender(broker.SenderConfig{})
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	go s.Run(runCtx)

	for _, tc := range []struct {
		name string
		send func(context.Context, broker.SendRequest) (broker.SendResult, error)
	}{{"Broker.Send", b.Send}, {"Sender.Send", s.Send}} {
		t.Run(tc.name, func(t *testing.T) {
			room := "lost-" + strings.ReplaceAll(tc.name, ".", "-")
			mustJoin(t, direct, room, "alice", "bob")
			req := broker.SendRequest{Room: room, Sender: "alice", Type: "text", Body: []byte(`{"type":"text","text":"once"}`)}
			fired := p.fired.Load()
			p.armed.Store(true)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if res, err := tc.send(ctx, req); err == nil {
				t.Fatalf("reply lost, yet Send returned %+v", res)
			}
			if p.fired.Load() != fired+1 {
				t.Fatal("the proxy did not drop a reply")
			}
			if n := direct.Redis().XLen(ctx, direct.KeysFor(room).Room(room)).Val(); n != 1 {
				t.Fatalf("the message is stored %d times, want once (no automatic resend)", n)
			}
			// The client's retry gets through and lands after it.
			res, err := tc.send(ctx, req)
			if err != nil || res.Seq != 2 {
				t.Fatalf("retry: %+v %v, want seq 2", res, err)
			}
		})
	}
}
