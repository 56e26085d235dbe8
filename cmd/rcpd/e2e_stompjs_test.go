package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
)

// jsConfig is the argument of tests/node/e2e.mjs.
type jsConfig struct {
	Room    string      `json:"room"`
	Count   int         `json:"count"`
	Devices []jsDevice  `json:"devices"`
	Refused []jsRefused `json:"refused"`
}

type jsDevice struct {
	Name  string `json:"name"`
	User  string `json:"user"`
	URL   string `json:"url"`
	Token string `json:"token"`
	Send  bool   `json:"send"`
}

type jsRefused struct {
	Name  string `json:"name"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

// jsResult is the line e2e.mjs prints.
type jsResult struct {
	OK      bool                `json:"ok"`
	Error   string              `json:"error"`
	MS      int                 `json:"ms"`
	Devices map[string]jsDevOut `json:"devices"`
	Refused map[string]struct {
		Message string `json:"message"`
		Body    string `json:"body"`
	} `json:"refused"`
}

type jsDevOut struct {
	Receipts []struct{ Text, ID, Seq string } `json:"receipts"`
	Received []jsMessage                      `json:"received"`
}

type jsMessage struct {
	ID, Seq, Prev, Sender, Room, Text string
}

// runNode runs tests/node/e2e.mjs with cfg under a deadline.
func runNode(t *testing.T, cfg jsConfig) jsResult {
	t.Helper()
	arg, _ := json.Marshal(cfg)
	var res jsResult
	stderr, err := runNodeScript(t, "e2e.mjs", string(arg), &res)
	if !res.OK || err != nil {
		t.Fatalf("e2e.mjs failed (exit %v): %s\nstderr:\n%s", err, res.Error, stderr)
	}
	return res
}

// runNodeScript runs tests/node/<script> (or RCP_TEST_NODE_DIR) with one
// argument under a minute's deadline and decodes the JSON line it prints
// into res. It returns node's stderr and exit error for the caller to judge
// with the result; no result at all fails the test.
func runNodeScript(t *testing.T, script, arg string, res any) ([]byte, error) {
	t.Helper()
	dir := os.Getenv("RCP_TEST_NODE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "tests", "node")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node ≥ 20 is required (%v); install it, then run `npm ci --prefix tests/node`", err)
	}
	for _, p := range []string{filepath.Join(dir, script), filepath.Join(dir, "node_modules", "@stomp", "stompjs", "package.json"),
		filepath.Join(dir, "node_modules", "ws", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v\nrun `npm ci --prefix tests/node` (or point RCP_TEST_NODE_DIR at tests/node)", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, script, arg)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node did not finish within a minute\nstdout:\n%s\nstderr:\n%s", stdout.Bytes(), stderr.Bytes())
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), res); err != nil {
		t.Fatalf("%s output is not a result (%v, exit %v):\n%s\nstderr:\n%s", script, err, runErr, stdout.Bytes(), stderr.Bytes())
	}
	return stderr.Bytes(), runErr
}

// TestStompJSExchangeAcrossNodes: @stomp/stompjs clients on two rcpd nodes
// (bob with a device on each) exchange messages; every device gets every
// receipted message once, in the room's order, and their ACKs empty the
// ledger.
func TestStompJSExchangeAcrossNodes(t *testing.T) {
	e := newEnv(t)
	n1, n2 := e.start(), e.start()
	n1.createRoom("js1", "alice", "bob", "carol")
	l := e.ledger()
	const count = 30
	cfg := jsConfig{Room: "js1", Count: count, Devices: []jsDevice{
		{Name: "alice", User: "alice", URL: n1.wsURL(), Token: token(t, "alice"), Send: true},
		{Name: "bob-phone", User: "bob", URL: n2.wsURL(), Token: token(t, "bob"), Send: true},
		{Name: "bob-web", User: "bob", URL: n1.wsURL(), Token: token(t, "bob")},
		{Name: "carol", User: "carol", URL: n2.wsURL(), Token: token(t, "carol"), Send: true},
	}, Refused: []jsRefused{
		{Name: "expired", URL: n1.wsURL(), Token: expiredToken(t)},
		{Name: "forged", URL: n2.wsURL(), Token: forgedToken(t)},
	}}
	res := runNode(t, cfg)

	receipted := map[string]jsMessage{} // stream id → what was sent
	for _, d := range cfg.Devices {
		if d.Send {
			checkReceipts(t, d, res.Devices[d.Name], count, receipted)
		}
	}
	var order []jsMessage
	for _, d := range cfg.Devices {
		got := res.Devices[d.Name].Received
		checkRoomOrder(t, d.Name, got, receipted)
		if order == nil {
			order = got
		} else if !slices.Equal(got, order) {
			t.Fatalf("%s saw another order than %s", d.Name, cfg.Devices[0].Name)
		}
	}
	if len(order) != len(receipted) || len(order) != 3*count {
		t.Fatalf("devices got %d messages, %d receipted, want %d", len(order), len(receipted), 3*count)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		l.waitPending("js1", u, []string{})
	}
	if n := l.xlen("js1"); n != 3*count {
		t.Fatalf("XLEN %d, want %d", n, 3*count)
	}
	for name, want := range map[string]string{"expired": "expired", "forged": "signature does not verify"} {
		r := res.Refused[name]
		if r.Message != "authentication failed" || !strings.Contains(r.Body, want) {
			t.Fatalf("stompjs CONNECT with the %s token: ERROR message=%q body=%q", name, r.Message, r.Body)
		}
	}
	t.Logf("stompjs: %d messages to 4 devices on 2 nodes in %d ms", len(order), res.MS)
}

// checkReceipts: one RECEIPT per message, in send order, with increasing
// x-stream-id; it records them in receipted.
func checkReceipts(t *testing.T, d jsDevice, out jsDevOut, count int, receipted map[string]jsMessage) {
	t.Helper()
	if len(out.Receipts) != count {
		t.Fatalf("%s: %d receipts, want %d", d.Name, len(out.Receipts), count)
	}
	var prev broker.StreamID
	for i, r := range out.Receipts {
		id, err := broker.ParseID(r.ID)
		if err != nil || !prev.Less(id) || r.Text != fmt.Sprintf("%s-%d", d.Name, i) {
			t.Fatalf("%s: receipt %d %+v after %s (%v)", d.Name, i, r, prev, err)
		}
		prev = id
		receipted[r.ID] = jsMessage{ID: r.ID, Seq: r.Seq, Sender: d.User, Room: "js1", Text: r.Text}
	}
}

// checkRoomOrder: got is every receipted message once, in stream order
// (so each sender's messages in send order), x-seq 1, 2, 3 …, each
// x-prev-id the id before, and the contents of its receipt.
func checkRoomOrder(t *testing.T, name string, got []jsMessage, receipted map[string]jsMessage) {
	t.Helper()
	if len(got) != len(receipted) {
		t.Fatalf("%s received %d messages, %d were receipted", name, len(got), len(receipted))
	}
	prev := ""
	var last broker.StreamID
	for i, m := range got {
		want, ok := receipted[m.ID]
		want.Prev = prev
		id, err := broker.ParseID(m.ID)
		if !ok || m != want || m.Seq != fmt.Sprint(i+1) || err != nil || !last.Less(id) {
			t.Fatalf("%s: message %d is %+v, want %+v with x-seq %d after %s", name, i, m, want, i+1, last)
		}
		prev, last = m.ID, id
	}
}
