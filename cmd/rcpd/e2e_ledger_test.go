package main_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/stomp"
)

// sent is what a RECEIPT told about one message.
type sent struct {
	id   string
	seq  string
	text string
}

// sendText sends {"type":"text","text":text} and returns its RECEIPT's
// x-stream-id and x-seq.
func sendText(t *testing.T, c *rawClient, room, text string, kv ...string) sent {
	t.Helper()
	r := c.send(room, textBody(text), kv...)
	s := sent{id: r.Header.Value("x-stream-id"), seq: r.Header.Value("x-seq"), text: text}
	if _, err := broker.ParseID(s.id); err != nil {
		t.Fatalf("RECEIPT x-stream-id %q: %v", s.id, err)
	}
	if _, err := strconv.ParseInt(s.seq, 10, 64); err != nil {
		t.Fatalf("RECEIPT x-seq %q: %v", s.seq, err)
	}
	return s
}

// storedText is the canonical body the server stores and delivers.
func storedText(text string) string {
	b, _ := json.Marshal(struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"text", text})
	return string(b)
}

// expectMessage checks a MESSAGE against what was sent.
func expectMessage(t *testing.T, m *stomp.Frame, want sent, sender, room string) {
	t.Helper()
	h := m.Header
	if h.Value("x-stream-id") != want.id || h.Value("x-seq") != want.seq || h.Value("x-sender") != sender ||
		h.Value("x-room") != room || string(m.Body) != storedText(want.text) {
		t.Fatalf("MESSAGE %v %s\nwant x-stream-id %s x-seq %s x-sender %s x-room %s body %s",
			h, m.Body, want.id, want.seq, sender, room, storedText(want.text))
	}
}

func expectMessages(t *testing.T, ms []*stomp.Frame, want []sent, sender, room string) {
	t.Helper()
	for i, m := range ms {
		expectMessage(t, m, want[i], sender, room)
	}
}

func ids(ss ...sent) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.id
	}
	return out
}

// TestLedgerPendingAndAck: after a SEND every member but the sender has the
// entry pending; an ACK in client-individual mode clears one entry of one
// member; an ACK in client mode clears everything up to the id.
func TestLedgerPendingAndAck(t *testing.T) {
	e := newEnv(t)
	n := e.start()
	n.createRoom("led1", "alice", "bob", "carol")
	l := e.ledger()
	alice := n.rawConnect("alice")

	m1 := sendText(t, alice, "led1", "m1")
	if m1.seq != "1" {
		t.Fatalf("first x-seq %s, want 1", m1.seq)
	}
	l.waitPending("led1", "bob", ids(m1))
	l.waitPending("led1", "carol", ids(m1))
	l.waitPending("led1", "alice", []string{})

	bob := n.rawConnect("bob")
	bob.subscribe("s1", "led1", "client-individual")
	b1 := bob.next()
	expectMessage(t, b1, m1, "alice", "led1")
	if _, ok := b1.Header.Get("x-prev-id"); ok {
		t.Fatalf("first message of a room carries x-prev-id: %v", b1.Header)
	}
	bob.ack(b1)
	l.waitPending("led1", "bob", []string{})
	l.waitPending("led1", "carol", ids(m1))

	m2, m3, m4 := sendText(t, alice, "led1", "m2"), sendText(t, alice, "led1", "m3"), sendText(t, alice, "led1", "m4")
	live := bob.nextN(3)
	expectMessages(t, live, []sent{m2, m3, m4}, "alice", "led1")
	if p := live[0].Header.Value("x-prev-id"); p != m1.id {
		t.Fatalf("x-prev-id of m2 %q, want %s", p, m1.id)
	}
	bob.ack(live[1]) // m3 only
	l.waitPending("led1", "bob", ids(m2, m4))

	carol := n.rawConnect("carol")
	carol.subscribe("s1", "led1", "client")
	got := carol.nextN(4)
	expectMessages(t, got, []sent{m1, m2, m3, m4}, "alice", "led1")
	carol.ack(got[2]) // client mode: m1, m2 and m3
	l.waitPending("led1", "carol", ids(m4))
	l.waitPending("led1", "bob", ids(m2, m4))
	l.waitPending("led1", "alice", []string{})
	if n := l.xlen("led1"); n != 4 {
		t.Fatalf("XLEN %d, want 4", n)
	}
}

// TestLedgerNackAndDisconnectRedeliver: NACKed and unacknowledged entries
// stay pending and come back, with the same stream ids, on the next
// SUBSCRIBE (same connection or a reconnect on another node).
func TestLedgerNackAndDisconnectRedeliver(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.start(), e.start()
	n1.createRoom("led2", "alice", "bob")
	l := e.ledger()
	alice := n1.rawConnect("alice")
	var ms []sent
	for i := range 4 {
		ms = append(ms, sendText(t, alice, "led2", fmt.Sprint("m", i+1)))
	}

	bob := n1.rawConnect("bob")
	bob.subscribe("s1", "led2", "client-individual")
	got := bob.nextN(4)
	expectMessages(t, got, ms, "alice", "led2")
	bob.ack(got[0])
	bob.nack(got[1])
	l.waitPending("led2", "bob", ids(ms[1:]...))

	// NACK then a new SUBSCRIBE on the same connection: m2..m4 again.
	mustReceipt(t, bob.request(stomp.CmdUnsubscribe, nil, "id", "s1"))
	bob.subscribe("s2", "led2", "client-individual")
	again := bob.nextN(3)
	expectMessages(t, again, ms[1:], "alice", "led2")
	if again[0].Header.Value("message-id") == got[1].Header.Value("message-id") {
		t.Fatalf("redelivery reuses the message-id %q of another subscription", got[1].Header.Value("message-id"))
	}

	// Disconnect without ACK, reconnect on the other node.
	bob.close()
	l.waitPending("led2", "bob", ids(ms[1:]...))
	bob2 := n2.rawConnect("bob")
	bob2.subscribe("s1", "led2", "client-individual")
	re := bob2.nextN(3)
	expectMessages(t, re, ms[1:], "alice", "led2")
	m5 := sendText(t, alice, "led2", "m5")
	expectMessage(t, bob2.next(), m5, "alice", "led2") // live, no duplicate before it
	bob2.ack(re[2])                                    // client-individual: m4 only
	l.waitPending("led2", "bob", ids(ms[1], ms[2], m5))
}

// TestLedgerTwoDevices: both devices of a user get every message; an ACK
// from either clears the user's entry.
func TestLedgerTwoDevices(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.start(), e.start()
	n1.createRoom("led3", "alice", "dave")
	l := e.ledger()
	phone, web := n1.rawConnect("dave"), n2.rawConnect("dave")
	phone.subscribe("s1", "led3", "client-individual")
	web.subscribe("s1", "led3", "client-individual")
	alice := n2.rawConnect("alice")

	m1 := sendText(t, alice, "led3", "m1")
	p1, w1 := phone.next(), web.next()
	expectMessage(t, p1, m1, "alice", "led3")
	expectMessage(t, w1, m1, "alice", "led3")
	l.waitPending("led3", "dave", ids(m1))
	web.ack(w1)
	l.waitPending("led3", "dave", []string{})
	phone.ack(p1) // already acknowledged by the other device: accepted, no effect
	l.waitPending("led3", "dave", []string{})

	m2 := sendText(t, alice, "led3", "m2")
	p2, w2 := phone.next(), web.next()
	expectMessage(t, p2, m2, "alice", "led3")
	expectMessage(t, w2, m2, "alice", "led3")
	phone.ack(p2)
	l.waitPending("led3", "dave", []string{})
	l.waitPending("led3", "alice", []string{})
}

// TestLedgerAckAutoAndSince: ack auto clears the ledger once delivered
// (live or replayed); x-since replays everything after the cursor,
// acknowledged or not, then goes live.
func TestLedgerAckAutoAndSince(t *testing.T) {
	e := newEnv(t)
	n := e.start()
	n.createRoom("led4", "alice", "erin", "frank")
	l := e.ledger()
	erin := n.rawConnect("erin")
	erin.subscribe("s1", "led4", "auto")
	alice := n.rawConnect("alice")
	var ms []sent
	for i := range 3 {
		ms = append(ms, sendText(t, alice, "led4", fmt.Sprint("m", i+1)))
	}
	got := erin.nextN(3)
	expectMessages(t, got, ms, "alice", "led4")
	if _, ok := got[0].Header.Get("ack"); ok {
		t.Fatalf("ack auto MESSAGE carries an ack header: %v", got[0].Header)
	}
	l.waitPending("led4", "erin", []string{})
	l.waitPending("led4", "frank", ids(ms...))

	frank := n.rawConnect("frank")
	frank.subscribe("s1", "led4", "client-individual", "x-since", ms[0].id)
	expectMessages(t, frank.nextN(2), ms[1:], "alice", "led4")
	m4 := sendText(t, alice, "led4", "m4")
	expectMessage(t, frank.next(), m4, "alice", "led4")

	// erin acknowledged everything; x-since 0-0 still replays the history.
	erin2 := n.rawConnect("erin")
	erin2.subscribe("s1", "led4", "client-individual", "x-since", "0-0")
	expectMessages(t, erin2.nextN(4), append(ms, m4), "alice", "led4")
	l.waitPending("led4", "frank", ids(append(ms, m4)...))

	// A backlog replayed in ack auto is cleared too.
	frank2 := n.rawConnect("frank")
	frank2.subscribe("s1", "led4", "auto")
	expectMessages(t, frank2.nextN(4), append(ms, m4), "alice", "led4")
	l.waitPending("led4", "frank", []string{})
}

// TestReceiptsIncreaseInSendOrder: SENDs pipelined on one connection get
// RECEIPTs whose x-stream-id increase and x-seq count up in send order.
func TestReceiptsIncreaseInSendOrder(t *testing.T) {
	e := newEnv(t)
	n := e.start()
	n.createRoom("led5", "alice", "bob")
	l := e.ledger()
	alice := n.rawConnect("alice")
	const count = 40
	reqs := make([]*pending, count)
	for i := range reqs {
		p, err := alice.requestAsync(stomp.CmdSend, textBody(fmt.Sprint(i)),
			"destination", "/app/rooms/led5", "content-type", "application/json")
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = p
	}
	var prev broker.StreamID
	var want []string
	for i, p := range reqs {
		f, err := p.wait()
		if err != nil {
			t.Fatalf("SEND %d: %v", i, err)
		}
		mustReceipt(t, f)
		id, err := broker.ParseID(f.Header.Value("x-stream-id"))
		if err != nil || !prev.Less(id) {
			t.Fatalf("RECEIPT %d x-stream-id %q after %s (%v)", i, f.Header.Value("x-stream-id"), prev, err)
		}
		if s := f.Header.Value("x-seq"); s != fmt.Sprint(i+1) {
			t.Fatalf("RECEIPT %d x-seq %s, want %d", i, s, i+1)
		}
		prev = id
		want = append(want, id.String())
	}
	entries := l.entries("led5")
	got := make([]string, len(entries))
	for i, m := range entries {
		got[i] = m.ID
		if m.Values["b"] != storedText(fmt.Sprint(i)) || m.Values["n"] != fmt.Sprint(i+1) || m.Values["s"] != "alice" {
			t.Fatalf("stream entry %d: %v", i, m.Values)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stream ids %v\nreceipted %v", got, want)
	}
	l.waitPending("led5", "bob", want)
}

// TestLedgerAckWithoutReceiptThenResubscribe: ACKs sent without a receipt
// do not hold the connection, yet they are in the ledger before a later
// SUBSCRIBE is handled, so its backlog replay does not resend them; an
// ACK's RECEIPT comes once its XACK is done.
func TestLedgerAckWithoutReceiptThenResubscribe(t *testing.T) {
	e := newEnv(t)
	n := e.start()
	n.createRoom("led5", "alice", "bob")
	l := e.ledger()
	alice := n.rawConnect("alice")
	m1, m2, m3 := sendText(t, alice, "led5", "m1"), sendText(t, alice, "led5", "m2"), sendText(t, alice, "led5", "m3")

	bob := n.rawConnect("bob")
	bob.subscribe("s1", "led5", "client-individual")
	got := bob.nextN(3)
	expectMessages(t, got, []sent{m1, m2, m3}, "alice", "led5")
	for _, m := range got[:2] {
		if err := bob.ackAsyncE(m); err != nil {
			t.Fatal(err)
		}
	}
	bob.subscribe("s2", "led5", "client-individual") // a second subscription: replays what is pending
	m, err := bob.nextE(time.Second)
	if err != nil {
		t.Fatalf("s2 replayed nothing (%v), want m3", err)
	}
	if got := m.Header.Value("x-stream-id"); got != m3.id {
		t.Fatalf("s2 replayed %s first, want m3 %s: the ACKs were not in the ledger", got, m3.id)
	}
	if m, err := bob.nextE(200 * time.Millisecond); err == nil {
		t.Fatalf("s2 replayed %s too", m.Header.Value("x-stream-id"))
	}
	if p := l.pending("led5", "bob"); !slices.Equal(p, ids(m3)) {
		t.Fatalf("pending %v, want %v", p, ids(m3))
	}
	mustReceipt(t, bob.request(stomp.CmdAck, nil, "id", got[2].Header.Value("ack")))
	if p := l.pending("led5", "bob"); len(p) != 0 {
		t.Fatalf("pending right after the ACK's RECEIPT %v, want none", p)
	}
}
