package stomp_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/go-stomp/stomp/v3/frame"

	"github.com/rcp/rcp/stomp"
)

// TestConformanceGoStomp drives the server with github.com/go-stomp/stomp
// over plain TCP and over WebSocket (through wsNetConn): the same table of
// scenarios on both transports.
func TestConformanceGoStomp(t *testing.T) {
	// Heart-beats every 100 ms; 4 silent periods end a session, so 1.2 s
	// of idleness without them fails while a loaded CI machine does not.
	hb := stomp.Config{HeartbeatSend: 100 * time.Millisecond, HeartbeatRecv: 100 * time.Millisecond, HeartbeatGrace: 4}
	scenarios := []struct {
		name string
		cfg  stomp.Config
		run  func(t *testing.T, e *confEnv)
	}{
		{"connect", stomp.Config{}, confConnect},
		{"heart-beats", hb, confHeartbeats},
		{"subscribe-send-unsubscribe", stomp.Config{}, confSubscribeSend},
		{"receipts", stomp.Config{}, confReceipts},
		{"ack-auto", stomp.Config{}, confAckAuto},
		{"ack-client", stomp.Config{}, confAckClient},
		{"ack-client-individual", stomp.Config{}, confAckClientIndividual},
		{"transaction-send", stomp.Config{}, confTxSend},
		{"transaction-ack", stomp.Config{}, confTxAck},
		{"binary-body-nul", stomp.Config{}, confBinaryBody},
		{"body-1MiB", stomp.Config{}, confLargeBody},
		{"disconnect-receipt", stomp.Config{}, confDisconnect},
	}
	for _, transport := range []string{"tcp", "ws"} {
		t.Run(transport, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, startConf(t, transport, sc.cfg))
				})
			}
		})
	}
}

// subscribe subscribes and waits until the server has the subscription.
func subscribe(t *testing.T, c *gostomp.Conn, dest string, mode gostomp.AckMode) *gostomp.Subscription {
	t.Helper()
	sub, err := c.Subscribe(dest, mode)
	if err != nil {
		t.Fatalf("SUBSCRIBE %s: %v", dest, err)
	}
	roundTrip(t, c)
	return sub
}

func send(t *testing.T, c *gostomp.Conn, dest, body string, opts ...func(*frame.Frame) error) {
	t.Helper()
	if err := c.Send(dest, "text/plain", []byte(body), opts...); err != nil {
		t.Fatalf("SEND %q to %s: %v", body, dest, err)
	}
}

// expectBodies receives len(want) messages and compares their bodies.
func expectBodies(t *testing.T, sub *gostomp.Subscription, want ...string) []*gostomp.Message {
	t.Helper()
	msgs := make([]*gostomp.Message, 0, len(want))
	for i, w := range want {
		m := recv(t, sub)
		if string(m.Body) != w {
			t.Fatalf("message %d: body %q, want %q", i, m.Body, w)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func expectLedger(t *testing.T, e *confEnv, acked, nacked []string) {
	t.Helper()
	if got := e.h.Acked(); !slices.Equal(got, acked) {
		t.Errorf("handler acked %q, want %q", got, acked)
	}
	if got := e.h.Nacked(); !slices.Equal(got, nacked) {
		t.Errorf("handler nacked %q, want %q", got, nacked)
	}
}

func confConnect(t *testing.T, e *confEnv) {
	versions := []struct {
		accept []gostomp.Version // nil: go-stomp's default 1.0,1.1,1.2
		want   gostomp.Version
	}{
		{nil, gostomp.V12},
		{[]gostomp.Version{gostomp.V11}, gostomp.V11},
		{[]gostomp.Version{gostomp.V10}, gostomp.V10},
	}
	sessions := map[string]bool{}
	for i, v := range versions {
		user := fmt.Sprintf("user%d", i)
		var connected *frame.Header
		opts := []func(*gostomp.Conn) error{
			gostomp.ConnOpt.ResponseHeaders(func(h *frame.Header) { connected = h.Clone() }),
		}
		if v.accept != nil {
			opts = append(opts, gostomp.ConnOpt.AcceptVersion(v.accept...))
		}
		c, _ := e.dial(user, opts...)
		if c.Version() != v.want {
			t.Errorf("accept %v: version %s, want %s", v.accept, c.Version(), v.want)
		}
		if c.Server() != confServerName {
			t.Errorf("server %q, want %q", c.Server(), confServerName)
		}
		if got := connected.Get("user-name"); got != user {
			t.Errorf("user-name %q, want %q", got, user)
		}
		if got := connected.Get("heart-beat"); got != "0,0" {
			t.Errorf("heart-beat %q, want 0,0 (server configured without heart-beats)", got)
		}
		sc := e.h.session(c.Session())
		if sc == nil {
			t.Fatalf("session %q in CONNECTED is not a session the server opened", c.Session())
		}
		if sc.User() != user || sc.Transport() != e.transport || sc.Version().String() != string(v.want) {
			t.Errorf("server side: user %q transport %q version %s; want %q %q %s",
				sc.User(), sc.Transport(), sc.Version(), user, e.transport, v.want)
		}
		if sessions[c.Session()] {
			t.Errorf("session id %q reused", c.Session())
		}
		sessions[c.Session()] = true
	}
}

func confHeartbeats(t *testing.T, e *confEnv) {
	var negotiated string
	// The client offers 100 ms both ways and, with HeartBeatError 50 ms,
	// writes a heart-beat every 50 ms and gives the server 450 ms of silence
	// before it gives up; the server (100 ms, grace 4) gives it 400 ms.
	c, cc := e.dial("alice",
		gostomp.ConnOpt.HeartBeat(100*time.Millisecond, 100*time.Millisecond),
		gostomp.ConnOpt.HeartBeatError(50*time.Millisecond),
		gostomp.ConnOpt.HeartBeatGracePeriodMultiplier(3),
		gostomp.ConnOpt.WithStats(),
		gostomp.ConnOpt.ResponseHeaders(func(h *frame.Header) { negotiated = h.Get("heart-beat") }))
	if negotiated != "100,100" {
		t.Fatalf("CONNECTED heart-beat %q, want 100,100", negotiated)
	}
	sub, err := c.Subscribe("/topic/hb", gostomp.AckAuto)
	if err != nil {
		t.Fatal(err)
	}
	in0, out0 := c.Stats().ReadsReceived, cc.heartbeats.Load()

	const idle = 1200 * time.Millisecond
	select {
	case m := <-sub.C:
		t.Fatalf("during %s of idleness: err %v, body %q", idle, m.Err, m.Body)
	case <-time.After(idle):
	}

	// Every read during the idle period was a server heart-beat: nothing
	// else was sent to this connection.
	if in := c.Stats().ReadsReceived - in0; in < 6 {
		t.Errorf("server heart-beats in %s: %d, want ≥ 6 (one per 100 ms)", idle, in)
	}
	if out := cc.heartbeats.Load() - out0; out < 6 {
		t.Errorf("client heart-beats in %s: %d, want ≥ 6", idle, out)
	}
	// Both sides kept the connection: the server would have closed it
	// after 400 ms without client heart-beats, go-stomp after 450 ms
	// without the server's.
	send(t, c, "/topic/hb", "after idle", gostomp.SendOpt.Receipt)
	expectBodies(t, sub, "after idle")
}

func confSubscribeSend(t *testing.T, e *confEnv) {
	const dest = "/topic/room:42" // ':' must be escaped as \c both ways
	alice, _ := e.dial("alice")
	bob, _ := e.dial("bob")
	sub := subscribe(t, alice, dest, gostomp.AckAuto)
	if n := e.h.Subscribers(dest); n != 1 {
		t.Fatalf("server has %d subscriptions to %s, want 1", n, dest)
	}
	err := bob.Send(dest, "text/plain;charset=utf-8", []byte("hello"), gostomp.SendOpt.Receipt)
	if err != nil {
		t.Fatal(err)
	}
	m := recv(t, sub)
	want := map[string]string{
		"destination":  dest,
		"subscription": sub.Id(),
		"message-id":   "1.1",
		"content-type": "text/plain;charset=utf-8",
		"x-sender":     "bob",
	}
	for k, v := range want {
		if got := m.Header.Get(k); got != v {
			t.Errorf("MESSAGE %s: %q, want %q", k, got, v)
		}
	}
	if ack, ok := m.Header.Contains("ack"); ok {
		t.Errorf("ack:auto MESSAGE carries ack %q", ack)
	}
	if m.Destination != dest || string(m.Body) != "hello" {
		t.Errorf("message %s %q, want %s hello", m.Destination, m.Body, dest)
	}

	within(t, "UNSUBSCRIBE (go-stomp waits for its receipt)", func() error { return sub.Unsubscribe() })
	if n := e.h.Subscribers(dest); n != 0 {
		t.Errorf("after UNSUBSCRIBE's receipt the server has %d subscriptions to %s", n, dest)
	}
}

func confReceipts(t *testing.T, e *confEnv) {
	c, _ := e.dial("alice")
	send(t, c, "/topic/r", "one", gostomp.SendOpt.Receipt) // Send returns once RECEIPT came
	within(t, "COMMIT with receipt", func() error {
		tx, err := c.BeginWithError()
		if err != nil {
			return err
		}
		return tx.CommitWithReceipt()
	})

	// A refused frame's ERROR carries its receipt as receipt-id.
	err := c.Send("/topic/r", "text/plain", []byte("two"),
		gostomp.SendOpt.Header("transaction", "nope"), gostomp.SendOpt.Header("receipt", "r-bad"))
	f := errFrame(err)
	if f == nil {
		t.Fatalf("SEND in an unknown transaction: %v, want an ERROR frame", err)
	}
	h := f.Header
	if f.Command != frame.ERROR || h.Get("message") != "unknown transaction" ||
		h.Get("receipt-id") != "r-bad" || string(f.Body) != `unknown transaction: "nope"` {
		t.Errorf("got %s message %q receipt-id %q body %q; want ERROR, %q, r-bad, %q",
			f.Command, h.Get("message"), h.Get("receipt-id"), f.Body,
			"unknown transaction", `unknown transaction: "nope"`)
	}
	e.h.waitSessionGone(t, c.Session())
}

func confAckAuto(t *testing.T, e *confEnv) {
	c, _ := e.dial("alice")
	sub := subscribe(t, c, "/topic/auto", gostomp.AckAuto)
	send(t, c, "/topic/auto", "a")
	send(t, c, "/topic/auto", "b")
	for i, m := range expectBodies(t, sub, "a", "b") {
		if id := m.Header.Get("message-id"); id != strconv.Itoa(i+1)+".1" {
			t.Errorf("message-id %q", id)
		}
		if ack, ok := m.Header.Contains("ack"); ok {
			t.Errorf("ack:auto MESSAGE carries ack %q", ack)
		}
	}
	roundTrip(t, c)
	expectLedger(t, e, nil, nil)
}

// ackable receives n messages of a client or client-individual
// subscription (the connection's first, so its tag is 1) whose app ids
// start at first, and checks their ack headers.
func ackable(t *testing.T, sub *gostomp.Subscription, first, n int) []*gostomp.Message {
	t.Helper()
	msgs := make([]*gostomp.Message, n)
	for i := range msgs {
		m := recv(t, sub)
		want := fmt.Sprintf("%d.1", first+i)
		if id, ack := m.Header.Get("message-id"), m.Header.Get("ack"); id != want || ack != want {
			t.Fatalf("message %d: message-id %q ack %q, want both %q", i, id, ack, want)
		}
		if s := m.Header.Get("subscription"); s != sub.Id() {
			t.Fatalf("message %d: subscription %q, want %q", i, s, sub.Id())
		}
		msgs[i] = m
	}
	return msgs
}

func sendN(t *testing.T, c *gostomp.Conn, dest string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		send(t, c, dest, "m"+strconv.Itoa(i))
	}
}

func confAckClient(t *testing.T, e *confEnv) {
	const dest = "/topic/client"
	c, _ := e.dial("alice")
	sub := subscribe(t, c, dest, gostomp.AckClient)
	sendN(t, c, dest, 1, 3)
	msgs := ackable(t, sub, 1, 3)
	if err := c.Ack(msgs[2]); err != nil { // cumulative: acks 1..3
		t.Fatal(err)
	}
	roundTrip(t, c)
	expectLedger(t, e, []string{"1", "2", "3"}, nil)

	sendN(t, c, dest, 4, 5)
	msgs = ackable(t, sub, 4, 2)
	if err := c.Nack(msgs[1]); err != nil { // cumulative: nacks 4..5
		t.Fatal(err)
	}
	roundTrip(t, c)
	expectLedger(t, e, []string{"1", "2", "3"}, []string{"4", "5"})

	// 2.1 was covered by the cumulative ACK of 3.1: it is no longer pending.
	if err := c.Ack(&gostomp.Message{Header: frame.NewHeader("ack", "2.1"), Subscription: sub, Conn: c}); err != nil {
		t.Fatal(err)
	}
	f := recvError(t, sub)
	if msg := f.Header.Get("message"); msg != "unknown ack id" || string(f.Body) != `unknown ack id: "2.1"` {
		t.Errorf("ERROR %q body %q, want %q %q", msg, f.Body, "unknown ack id", `unknown ack id: "2.1"`)
	}
}

func confAckClientIndividual(t *testing.T, e *confEnv) {
	const dest = "/topic/individual"
	c, _ := e.dial("alice")
	sub := subscribe(t, c, dest, gostomp.AckClientIndividual)
	sendN(t, c, dest, 1, 3)
	msgs := ackable(t, sub, 1, 3)
	steps := []struct {
		ack           bool
		msg           int
		acked, nacked []string
	}{
		{true, 1, []string{"2"}, nil},
		{false, 0, []string{"2"}, []string{"1"}},
		{true, 2, []string{"2", "3"}, []string{"1"}},
	}
	for _, s := range steps {
		op := c.Nack
		if s.ack {
			op = c.Ack
		}
		if err := op(msgs[s.msg]); err != nil {
			t.Fatal(err)
		}
		roundTrip(t, c)
		expectLedger(t, e, s.acked, s.nacked)
	}
}

func confTxSend(t *testing.T, e *confEnv) {
	const dest = "/topic/tx"
	alice, _ := e.dial("alice")
	bob, _ := e.dial("bob")
	sub := subscribe(t, alice, dest, gostomp.AckAuto)

	tx, err := bob.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"a", "b"} {
		if err := tx.Send(dest, "text/plain", []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	// bob's frames are handled in order and delivered to alice in order:
	// if the transaction had leaked, "a" would arrive before the marker.
	send(t, bob, dest, "marker 1", gostomp.SendOpt.Receipt)
	expectBodies(t, sub, "marker 1")
	within(t, "COMMIT", tx.CommitWithReceipt)
	expectBodies(t, sub, "a", "b")

	tx, err = bob.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Send(dest, "text/plain", []byte("aborted")); err != nil {
		t.Fatal(err)
	}
	within(t, "ABORT", tx.AbortWithReceipt)
	send(t, bob, dest, "marker 2", gostomp.SendOpt.Receipt)
	expectBodies(t, sub, "marker 2")
}

func confTxAck(t *testing.T, e *confEnv) {
	const dest = "/topic/txack"
	c, _ := e.dial("alice")
	sub := subscribe(t, c, dest, gostomp.AckClientIndividual)
	sendN(t, c, dest, 1, 2)
	msgs := ackable(t, sub, 1, 2)

	tx, err := c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Ack(msgs[0]); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	expectLedger(t, e, nil, nil) // buffered, not applied
	within(t, "COMMIT", tx.CommitWithReceipt)
	expectLedger(t, e, []string{"1"}, nil)

	tx, err = c.BeginWithError()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Nack(msgs[1]); err != nil {
		t.Fatal(err)
	}
	within(t, "ABORT", tx.AbortWithReceipt)
	expectLedger(t, e, []string{"1"}, nil)
	// The aborted NACK left 2.1 pending: it can still be acknowledged.
	if err := c.Ack(msgs[1]); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
	expectLedger(t, e, []string{"1", "2"}, nil)
}

func confBinaryBody(t *testing.T, e *confEnv) {
	all := make([]byte, 512)
	for i := range all {
		all[i] = byte(i) // every byte value, NUL included, twice
	}
	bodies := []struct {
		name string
		body []byte
	}{
		{"utf8-with-nul", []byte("a\x00b\x00\x00c\n\x00")}, // a text WebSocket message
		{"every-byte", all}, // not UTF-8: a binary WebSocket message
		{"only-nul", []byte{0}},
	}
	c, _ := e.dial("alice")
	sub := subscribe(t, c, "/topic/bin", gostomp.AckAuto)
	for _, b := range bodies {
		if err := c.Send("/topic/bin", "application/octet-stream", b.body, gostomp.SendOpt.Receipt); err != nil {
			t.Fatalf("%s: %v", b.name, err)
		}
		m := recv(t, sub)
		if !bytes.Equal(m.Body, b.body) {
			t.Errorf("%s: body %q, want %q", b.name, m.Body, b.body)
		}
		if cl := m.Header.Get("content-length"); cl != strconv.Itoa(len(b.body)) {
			t.Errorf("%s: content-length %q, want %d", b.name, cl, len(b.body))
		}
		if m.ContentType != "application/octet-stream" {
			t.Errorf("%s: content-type %q", b.name, m.ContentType)
		}
	}
}

func confLargeBody(t *testing.T, e *confEnv) {
	body := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{'r', 'c', 'p'}).Read(body)
	c, cc := e.dial("alice")
	sub := subscribe(t, c, "/topic/big", gostomp.AckAuto)
	w0 := cc.writes.Load()
	if err := c.Send("/topic/big", "application/octet-stream", body, gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	// go-stomp's 4 KiB write buffer splits the frame: over WebSocket each
	// piece is a message of its own that the server must reassemble.
	if n := cc.writes.Load() - w0; n < 2 {
		t.Errorf("the 1 MiB SEND went out in %d writes; the test wants it split", n)
	}
	m := recv(t, sub)
	if !bytes.Equal(m.Body, body) {
		t.Errorf("1 MiB body: got %d bytes, differs from what was sent", len(m.Body))
	}
}

func confDisconnect(t *testing.T, e *confEnv) {
	const dest = "/topic/bye"
	c, _ := e.dial("alice")
	subscribe(t, c, dest, gostomp.AckClient)
	// Disconnect sends DISCONNECT with a receipt and returns nil only when
	// the RECEIPT arrived.
	if err := c.Disconnect(); err != nil {
		t.Fatalf("DISCONNECT: %v", err)
	}
	e.h.waitSessionGone(t, c.Session())
	if n := e.h.Subscribers(dest); n != 0 {
		t.Errorf("%d subscriptions to %s survived the session", n, dest)
	}
}
