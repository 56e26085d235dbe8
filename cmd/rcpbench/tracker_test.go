package main

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/rcp/rcp/stomp"
)

func TestBodyCarriesIDAndTime(t *testing.T) {
	b := makeBody(42, 123456789, 100)
	var v struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Type != "text" || len(v.Text) != 100 {
		t.Fatalf("body %s: %v (text %d bytes)", b, err, len(v.Text))
	}
	// The server re-encodes the body; the fields must survive that.
	canonical, _ := json.Marshal(v)
	id, ns, ok := parseBody(canonical)
	if !ok || id != 42 || ns != 123456789 {
		t.Fatalf("parse %s: %d %d %v", canonical, id, ns, ok)
	}
	if _, _, ok := parseBody([]byte(`{"type":"text","text":"hello"}`)); ok {
		t.Fatal("a foreign message parsed as a benchmark message")
	}
}

func message(seq, id int64) *stomp.Frame {
	return stomp.NewFrame(stomp.CmdMessage, makeBody(id, 1, 10), "x-seq", strconv.FormatInt(seq, 10), "ack", "a")
}

func TestLossAndDuplicatesAreCounted(t *testing.T) {
	tr := newTracker(4, 2)
	tr.expected[0], tr.expected[1] = 2, 1
	for i := range 4 {
		id, _ := tr.take(i % 2)
		tr.msgs[id].sentNs.Store(1)
		tr.markSent(id)
		if i != 3 {
			tr.markReceipted(id)
		}
	}
	if _, ok := tr.take(0); ok {
		t.Fatal("budget of 4 exceeded")
	}
	a, b := &client{room: 0}, &client{room: 0}
	var lastA, lastB int64
	a.onMessage(message(1, 0), tr, "auto", &lastA)
	a.onMessage(message(2, 2), tr, "auto", &lastA)
	a.onMessage(message(2, 2), tr, "auto", &lastA) // a repeat
	b.onMessage(message(1, 0), tr, "auto", &lastB)
	b.onMessage(message(2, 1), tr, "auto", &lastB) // message 1 is room 1's

	var r report
	r.countLoss(&config{Receipts: true}, tr)
	// Accepted: 0 (room 0, 2 of 2), 1 (room 1, 0 of 1), 2 (room 0, 1 of 2);
	// 3 was never receipted.
	if r.Expected != 5 || r.Lost != 2 || r.LostMessages != 2 || r.Unreceipted != 1 {
		t.Fatalf("loss %+v", r)
	}
	if tr.delivered.Load() != 3 || tr.duplicates.Load() != 1 || tr.unexpected.Load() != 1 {
		t.Fatalf("delivered %d duplicates %d unexpected %d", tr.delivered.Load(), tr.duplicates.Load(), tr.unexpected.Load())
	}
	// Expected 2+1+2+1 = 6 over the 4 SENDs written, 3 delivered.
	if rd, dd := tr.outstanding(true); rd != 1 || dd != 3 {
		t.Fatalf("outstanding receipts %d deliveries %d", rd, dd)
	}
}
