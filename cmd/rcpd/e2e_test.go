package main_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
)

func recv(t *testing.T, sub *gostomp.Subscription) *gostomp.Message {
	t.Helper()
	select {
	case m := <-sub.C:
		if m == nil || m.Err != nil {
			t.Fatalf("subscription ended: %v", m)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no MESSAGE within 5s")
	}
	return nil
}

// collect reads n messages from sub in the background (go-stomp stops
// reading the connection, RECEIPTs included, while a subscription's channel
// is full) and acknowledges each one.
func collect(t *testing.T, c *client, sub *gostomp.Subscription, n int) <-chan []*gostomp.Message {
	out := make(chan []*gostomp.Message, 1)
	go func() {
		var got []*gostomp.Message
		defer func() { out <- got }()
		timeout := time.After(20 * time.Second)
		for len(got) < n {
			select {
			case m := <-sub.C:
				if m == nil || m.Err != nil {
					return
				}
				got = append(got, m)
				if m.ShouldAck() {
					c.Ack(m)
				}
			case <-timeout:
				return
			}
		}
	}()
	return out
}

func TestTwoNodesExchangeMessagesInOrder(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.start(), e.start()
	n1.createRoom("r1", "alice", "bob")
	alice, bob := n1.connect("alice"), n2.connect("bob")
	subA, err := alice.Subscribe("/topic/rooms/r1", gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	subB, err := bob.Subscribe("/topic/rooms/r1", gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	const count = 50
	gotA, gotB := collect(t, alice, subA, count), collect(t, bob, subB, count)
	for i := 0; i < count; i++ {
		from := alice
		if i%2 == 1 {
			from = bob
		}
		if err := from.Send("/app/rooms/r1", "application/json", textBody(fmt.Sprint(i)), gostomp.SendOpt.Receipt); err != nil {
			t.Fatalf("send %d: %v\nnode1:\n%s\nnode2:\n%s", i, err, n1.Log, n2.Log)
		}
	}
	for _, got := range []<-chan []*gostomp.Message{gotA, gotB} {
		msgs := <-got
		if len(msgs) != count {
			t.Fatalf("received %d of %d", len(msgs), count)
		}
		prev := ""
		for i, m := range msgs {
			var body struct{ Type, Text string }
			if err := json.Unmarshal(m.Body, &body); err != nil || body.Text != fmt.Sprint(i) {
				t.Fatalf("message %d: %s (%v)", i, m.Body, err)
			}
			if got := m.Header.Get("x-seq"); got != fmt.Sprint(i+1) {
				t.Fatalf("message %d x-seq %s", i, got)
			}
			if m.Header.Get("x-prev-id") != prev {
				t.Fatalf("message %d x-prev-id %q want %q", i, m.Header.Get("x-prev-id"), prev)
			}
			prev = m.Header.Get("x-stream-id")
			wantSender := "alice"
			if i%2 == 1 {
				wantSender = "bob"
			}
			if m.Header.Get("x-sender") != wantSender || m.Header.Get("x-room") != "r1" || m.ContentType != "application/json" {
				t.Fatalf("message %d headers %v", i, m.Header)
			}
		}
	}
}
