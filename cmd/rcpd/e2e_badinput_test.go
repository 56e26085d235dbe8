package main_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/stomp"
)

// badCase is one refused input: what the client does on a fresh
// connection, and the ERROR it must get.
type badCase struct {
	name    string
	token   func(t *testing.T) string // nil: a valid token for alice
	frame   *stomp.Frame              // nil: nothing after CONNECT
	message string                    // the ERROR's message header
	detail  string                    // a substring of the ERROR's body
}

func expiredToken(t *testing.T) string {
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   "alice",
		IssuedAt:  jwt.NewNumericDate(now.Add(-2 * time.Hour)),
		ExpiresAt: jwt.NewNumericDate(now.Add(-time.Hour)),
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func forgedToken(t *testing.T) string {
	tok, err := gateway.MintHS256([]byte("not-the-server-secret-0123456789abcdef"), "alice", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func sendFrame(dest string, body []byte, kv ...string) *stomp.Frame {
	return stomp.NewFrame(stomp.CmdSend, body, append([]string{"destination", dest, "content-type", "application/json"}, kv...)...)
}

func badCases() []badCase {
	const room = "/app/rooms/bad1"
	return []badCase{
		{name: "expired token", token: expiredToken, message: "authentication failed", detail: "expired"},
		{name: "forged token", token: forgedToken, message: "authentication failed", detail: "signature does not verify"},
		{name: "send to a room of others", frame: sendFrame("/app/rooms/bad2", textBody("hi")), message: "not a member of the room", detail: "bad2"},
		{name: "send to no room", frame: sendFrame("/topic/rooms/nosuch", textBody("hi")), message: "not a member of the room", detail: "nosuch"},
		{name: "subscribe to a room of others", frame: stomp.NewFrame(stomp.CmdSubscribe, nil, "id", "s1",
			"destination", "/topic/rooms/bad2", "ack", "client-individual"), message: "not a member of the room", detail: "bad2"},
		{name: "bad JSON", frame: sendFrame(room, []byte(`{"type":"text","text":`)), message: "invalid message body", detail: "bad JSON"},
		{name: "not UTF-8", frame: sendFrame(room, []byte("{\"type\":\"text\",\"text\":\"\xff\"}")), message: "invalid message body", detail: "not UTF-8"},
		{name: "missing type", frame: sendFrame(room, []byte(`{"text":"hi"}`)), message: "invalid message body", detail: `missing "type"`},
		{name: "unknown field", frame: sendFrame(room, []byte(`{"type":"text","text":"hi","color":"red"}`)), message: "invalid message body", detail: "unknown field"},
		{name: "oversize text", frame: sendFrame(room, textBody(strings.Repeat("x", 16<<10+1))), message: "invalid message body", detail: "text too long"},
		{name: "empty text", frame: sendFrame(room, textBody("")), message: "invalid message body", detail: "empty text"},
		{name: "blank text", frame: sendFrame(room, textBody(" \n\t ")), message: "invalid message body", detail: "empty text"},
		{name: "image not enabled", frame: sendFrame(room, []byte(`{"type":"image","image":{"data":"iVBORw0KGgo=","contentType":"image/png","name":"a.png"}}`)),
			message: "invalid message body", detail: "unsupported message type"},
		{name: "unknown type", frame: sendFrame(room, []byte(`{"type":"video","text":"hi"}`)), message: "invalid message body", detail: "unsupported message type"},
		{name: "send to unknown destination", frame: sendFrame("/app/nowhere", textBody("hi")), message: "unknown destination", detail: "/app/nowhere"},
		{name: "send to a bad room id", frame: sendFrame("/app/rooms/a{b}", textBody("hi")), message: "unknown destination", detail: "a{b}"},
		{name: "subscribe to unknown destination", frame: stomp.NewFrame(stomp.CmdSubscribe, nil, "id", "s1",
			"destination", "/queue/bad1", "ack", "auto"), message: "unknown destination", detail: "/queue/bad1"},
		{name: "x-client-id with a space", frame: sendFrame(room, textBody("hi"), "x-client-id", "a b"), message: "invalid x-client-id"},
		{name: "x-client-id with a colon", frame: sendFrame(room, textBody("hi"), "x-client-id", "a:b"), message: "invalid x-client-id"},
		{name: "x-client-id too long", frame: sendFrame(room, textBody("hi"), "x-client-id", strings.Repeat("c", 129)), message: "invalid x-client-id"},
		{name: "bad x-since", frame: stomp.NewFrame(stomp.CmdSubscribe, nil, "id", "s1",
			"destination", "/topic/rooms/bad1", "ack", "auto", "x-since", "yesterday"), message: "invalid x-since"},
	}
}

// refusal runs one bad case on a fresh connection and returns the ERROR.
func refusal(t *testing.T, n *node, bc badCase) *stomp.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	c, err := dialRaw(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	tok := token(t, "alice")
	if bc.token != nil {
		tok = bc.token(t)
	}
	f, err := c.connectE(tok)
	if err != nil {
		t.Fatalf("CONNECT: %v", err)
	}
	if bc.frame == nil {
		return f
	}
	if f.Command != stomp.CmdConnected {
		t.Fatalf("CONNECT: %s %q: %s", f.Command, f.Header.Value("message"), f.Body)
	}
	c.t, c.user = t, "alice"
	fr := *bc.frame
	fr.Header = append(stomp.Header(nil), bc.frame.Header...)
	return c.request(fr.Command, fr.Body, flatten(fr.Header)...)
}

func flatten(h stomp.Header) []string {
	out := make([]string, 0, 2*len(h))
	for _, f := range h {
		out = append(out, f.Key, f.Value)
	}
	return out
}

// TestBadInputRefused: every bad input is an ERROR with the documented
// message header, writes no stream entry, and leaves another user's
// connection on the same node working.
func TestBadInputRefused(t *testing.T) {
	e := newEnv(t)
	n := e.start()
	n.createRoom("bad1", "alice", "bob", "sam")
	n.createRoom("bad2", "bob", "carol")
	l := e.ledger()
	bob := n.rawConnect("bob")
	bob.subscribe("s1", "bad1", "auto")
	sam := n.rawConnect("sam")
	for _, bc := range badCases() {
		len1, len2 := l.xlen("bad1"), l.xlen("bad2")
		f := refusal(t, n, bc)
		if f.Command != stomp.CmdError || f.Header.Value("message") != bc.message || !strings.Contains(string(f.Body), bc.detail) {
			t.Fatalf("%s: got %s message=%q body %q; want ERROR message=%q body containing %q",
				bc.name, f.Command, f.Header.Value("message"), f.Body, bc.message, bc.detail)
		}
		if a, b := l.xlen("bad1"), l.xlen("bad2"); a != len1 || b != len2 {
			t.Fatalf("%s: XLEN bad1 %d→%d, bad2 %d→%d", bc.name, len1, a, len2, b)
		}
		after := sendText(t, sam, "bad1", "after "+bc.name)
		expectMessage(t, bob.next(), after, "sam", "bad1")
	}

	// The limit itself is accepted.
	alice := n.rawConnect("alice")
	limit := sendText(t, alice, "bad1", strings.Repeat("x", 16<<10))
	expectMessage(t, bob.next(), limit, "alice", "bad1")
	if got, want := l.xlen("bad1"), int64(len(badCases())+1); got != want {
		t.Fatalf("XLEN bad1 %d, want %d", got, want)
	}
	if got := l.xlen("bad2"); got != 0 {
		t.Fatalf("XLEN bad2 %d, want 0", got)
	}
}
