package stomp_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

const slowReason = "slow_consumer:_outbound_queue_full"

// TestSessionSlowConsumer: a subscriber that stops reading is disconnected
// once its bounded outbound queue is full; the publisher and a healthy
// subscriber of the same destination go on, and the server does not buffer
// what the slow one could not take.
//
// The transports run one after the other (not in parallel) so that the heap
// measured is this test's.
func TestSessionSlowConsumer(t *testing.T) {
	for _, kind := range sessTransports {
		t.Run(kind, func(t *testing.T) { testSlowConsumer(t, kind) })
	}
}

func testSlowConsumer(t *testing.T, kind string) {
	const (
		queue   = 8
		size    = 64 << 10
		window  = queue / 2
		maxHeap = 4 << 20
	)
	// Enough to fill the kernel's buffers, the queue, and then some
	// (10 MiB with Linux's default 4 MiB send buffer).
	total := kernelSendBuffer()/size + 96
	s := startSess(t, memtopic.New(), stomp.Config{OutboundQueue: queue})

	slow := s.dial(t, kind)
	slow.connect("slow")
	slow.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/big", "id", "0")
	shrinkReadBuffer(t, slow)

	healthy := s.dial(t, kind)
	healthy.connect("healthy")
	healthy.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/big", "id", "0")
	got := make(chan string, total)
	readErr := make(chan error, 1)
	go func() {
		for range total {
			f, err := healthy.next(sessWait)
			if err != nil || f == nil || f.Command != stomp.CmdMessage {
				readErr <- fmt.Errorf("healthy subscriber: frame %v, err %v", f, err)
				return
			}
			got <- string(f.Body[:8])
		}
	}()

	pub := s.dial(t, kind)
	pub.connect("pub")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	body := bytes.Repeat([]byte("x"), size)
	for i := range total {
		// The healthy subscriber may lag a few messages behind, never
		// a full queue: it is not a slow consumer.
		if i >= window {
			select {
			case b := <-got:
				if want := fmt.Sprintf("%08d", i-window); b != want {
					t.Fatalf("healthy subscriber got message %s, want %s", b, want)
				}
			case err := <-readErr:
				t.Fatal(err)
			}
		}
		copy(body, fmt.Sprintf("%08d", i))
		// Publisher's receipts keep coming whatever the slow one does.
		pub.callQuiet(stomp.CmdSend, string(body), "destination", "/topic/big")
	}
	for i := total - window; i < total; i++ {
		select {
		case b := <-got:
			if want := fmt.Sprintf("%08d", i); b != want {
				t.Fatalf("healthy subscriber got message %s, want %s", b, want)
			}
		case err := <-readErr:
			t.Fatal(err)
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapInuse) - int64(before.HeapInuse)
	if grew > maxHeap {
		t.Errorf("heap grew by %d KiB while %d MiB went to a reader that never read",
			grew>>10, total*size>>20)
	}

	if n := s.obs.Errors(slowReason); n != 1 {
		t.Fatalf("slow consumer reported %d times, want once", n)
	}
	s.obs.waitFor(t, "the slow consumer's session to end", func() bool { return s.srv.ConnCount() == 2 })
	// Its socket is closed: it reads what the kernel had buffered, then
	// the end of the stream. If the ERROR got through, it is the
	// slow-consumer one. The heart-beat written first draws a reset
	// from the closed socket: the kernel may have given up sending into
	// the tiny window that shrinkReadBuffer left, without a FIN.
	slow.writeRaw([]byte("\n"))
	n, sawError := 0, false
	deadline := time.Now().Add(sessWait)
	for {
		f, err := slow.next(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("slow consumer's connection still open after %d frames", n)
		}
		if err != nil {
			break
		}
		if f != nil && f.Command == stomp.CmdError {
			if f.Header.Value("message") != "slow consumer: outbound queue full" {
				t.Fatalf("slow consumer got %s", describeFrame(f))
			}
			sawError = true
		}
		n++
	}
	if n >= total {
		t.Errorf("the slow consumer got all %d messages: it was never slow", n)
	}
	t.Logf("%s: slow consumer read %d of %d frames before the close (ERROR among them: %v); heap grew %d KiB",
		kind, n, total, sawError, grew>>10)
	healthy.callQuiet(stomp.CmdDisconnect, "")
	pub.callQuiet(stomp.CmdDisconnect, "")
}

// kernelSendBuffer is the most a TCP socket's send buffer grows to: what the
// server's kernel may absorb for a client that does not read.
func kernelSendBuffer() int {
	const fallback = 4 << 20
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		return fallback
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return fallback
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return fallback
	}
	return n
}

// shrinkReadBuffer keeps the kernel from absorbing megabytes for a client
// that does not read, so the server's queue fills sooner. Only for clients
// that never read again: a tiny window left behind a closed socket can stall
// the kernel's delivery of what was already sent.
func shrinkReadBuffer(t *testing.T, c *sessClient) {
	nc := c.nc
	if nc == nil {
		nc = c.ws.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		if err := tc.SetReadBuffer(8 << 10); err != nil {
			t.Logf("SetReadBuffer: %v", err)
		}
	}
}

// TestSessionSlowConsumerUnsubscribes: a client-ack subscriber dropped
// for slowness has its subscription ended for the handler.
func TestSessionSlowConsumerUnsubscribes(t *testing.T) {
	h := memtopic.New()
	// A short WriteTimeout also bounds the close of a writer blocked on it.
	s := startSess(t, h, stomp.Config{OutboundQueue: 4, WriteTimeout: 200 * time.Millisecond})
	slow := s.dial(t, "tcp")
	slow.connect("slow")
	slow.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/big", "id", "0", "ack", "client")
	shrinkReadBuffer(t, slow)
	pub := s.dial(t, "ws")
	pub.connect("pub")
	body := strings.Repeat("y", 64<<10)
	limit := 2*kernelSendBuffer()/len(body) + 100
	for i := 0; s.obs.Errors(slowReason) == 0; i++ {
		if i == limit {
			t.Fatalf("%d messages of 64 KiB and no slow consumer", limit)
		}
		pub.callQuiet(stomp.CmdSend, body, "destination", "/topic/big")
	}
	s.obs.waitFor(t, "the slow subscription to end", func() bool { return h.Subscribers("/topic/big") == 0 })
	s.obs.waitFor(t, "the slow session to end", func() bool { return s.srv.ConnCount() == 1 })
}
