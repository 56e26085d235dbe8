package stomp_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/stomp"
)

// stompjsResult is one line of tests/node/conformance.mjs output.
type stompjsResult struct {
	Scenario string `json:"scenario"`
	OK       bool   `json:"ok"`
	MS       int    `json:"ms"`
	Error    string `json:"error"`

	Server       string   `json:"server"`
	Version      string   `json:"version"`
	Protocol     string   `json:"protocol"`
	HeartBeat    string   `json:"heartBeat"`
	Sessions     []string `json:"sessions"`
	PingsIn      int      `json:"pingsIn"`
	PingsOut     int      `json:"pingsOut"`
	CloseMS      int      `json:"closeMs"`
	DeactivateMS int      `json:"deactivateMs"`
	CloseCode    int      `json:"closeCode"`
	Acked        []string `json:"acked"`
	Nacked       []string `json:"nacked"`
	Order        []string `json:"order"`
	TextMessages int      `json:"textMessages"`
}

// TestConformanceStompJS runs @stomp/stompjs (node, ws package) against the
// server. It never skips: without node or tests/node/node_modules it fails
// and says how to install them.
func TestConformanceStompJS(t *testing.T) {
	nodeDir := os.Getenv("RCP_TEST_NODE_DIR")
	if nodeDir == "" {
		nodeDir = filepath.Join(repoRoot(t), "tests", "node")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node ≥ 20 is required for the stompjs conformance test (%v); install it, then run `npm ci --prefix tests/node`", err)
	}
	script := filepath.Join(nodeDir, "conformance.mjs")
	for _, p := range []string{script,
		filepath.Join(nodeDir, "node_modules", "@stomp", "stompjs", "package.json"),
		filepath.Join(nodeDir, "node_modules", "ws", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v\nrun `npm ci --prefix tests/node` (or point RCP_TEST_NODE_DIR at a directory holding conformance.mjs and its node_modules)", err)
		}
	}

	e := startConf(t, "ws", stomp.Config{
		HeartbeatSend:  100 * time.Millisecond,
		HeartbeatRecv:  100 * time.Millisecond,
		HeartbeatGrace: 4, // as the script's stompjs heartbeatToleranceMultiplier
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, e.url)
	cmd.Dir = nodeDir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node did not finish within a minute\nstdout:\n%s\nstderr:\n%s", stdout.Bytes(), stderr.Bytes())
	}

	t.Logf("node %s:\n%s", filepath.Base(script), stdout.Bytes())

	results := map[string]stompjsResult{}
	var names []string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r stompjsResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Errorf("node printed a line that is not a result: %q", sc.Text())
			continue
		}
		names = append(names, r.Scenario)
		results[r.Scenario] = r
		if !r.OK {
			t.Errorf("stompjs %s: %s", r.Scenario, r.Error)
		}
	}
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) {
			t.Fatalf("running node: %v", runErr)
		}
		t.Errorf("node exited with %v\nstderr:\n%s", runErr, stderr.Bytes())
	}
	want := []string{"connect", "heart-beats", "subscribe-send-unsubscribe", "receipts",
		"ack-auto", "ack-client", "ack-client-individual", "transaction-send",
		"transaction-ack", "binary-body-nul", "body-1MiB", "disconnect-receipt",
		"force-disconnect"}
	if !slices.Equal(names, want) {
		t.Fatalf("scenarios reported:\n  %q\nwant\n  %q", names, want)
	}
	if t.Failed() {
		t.FailNow()
	}

	c := results["connect"]
	if c.Server != confServerName || c.Version != "1.2" || c.Protocol != "v12.stomp" || c.HeartBeat != "100,100" {
		t.Errorf("connect: server %q version %q subprotocol %q heart-beat %q; want %q 1.2 v12.stomp 100,100",
			c.Server, c.Version, c.Protocol, c.HeartBeat, confServerName)
	}
	if len(c.Sessions) != 2 {
		t.Fatalf("connect: sessions %q, want 2", c.Sessions)
	}
	for i, user := range []string{"alice", "bob"} {
		sc := e.h.session(c.Sessions[i])
		if sc == nil {
			t.Errorf("connect: session %q is not one the server opened", c.Sessions[i])
		} else if sc.User() != user || sc.Transport() != "ws" {
			t.Errorf("connect: session %q is user %q over %q, want %q over ws", c.Sessions[i], sc.User(), sc.Transport(), user)
		}
	}
	if hb := results["heart-beats"]; hb.PingsIn < 6 || hb.PingsOut < 6 {
		t.Errorf("heart-beats: %d in, %d out during 1.2 s of idleness, want ≥ 6 each", hb.PingsIn, hb.PingsOut)
	}
	for _, name := range []string{"receipts", "disconnect-receipt"} {
		r := results[name]
		if r.CloseCode != 1000 || r.CloseMS >= 2000 || r.DeactivateMS >= 2000 {
			t.Errorf("%s: close code %d after %d ms (deactivate %d ms); the server must close TCP at once",
				name, r.CloseCode, r.CloseMS, r.DeactivateMS)
		}
	}
	if o := results["transaction-send"].Order; !slices.Equal(o, []string{"marker 1", "a", "b", "marker 2", "marker 3"}) {
		t.Errorf("transaction-send: delivery order %q", o)
	}

	// Every scenario reported what it acknowledged; together, in order, that
	// is the handler's whole ledger.
	var acked, nacked []string
	for _, name := range want {
		acked = append(acked, results[name].Acked...)
		nacked = append(nacked, results[name].Nacked...)
	}
	if len(acked) != 7 || len(nacked) != 3 {
		t.Errorf("scenarios acked %q and nacked %q; want 7 and 3 ids", acked, nacked)
	}
	if got := e.h.Acked(); !slices.Equal(got, acked) {
		t.Errorf("handler acked %q, scenarios %q", got, acked)
	}
	if got := e.h.Nacked(); !slices.Equal(got, nacked) {
		t.Errorf("handler nacked %q, scenarios %q", got, nacked)
	}
	// node has exited: every session it opened must have ended, and only
	// two ended badly: the refused SEND and the dropped socket.
	e.h.waitAllGone(t)
	reasons := e.obs.Reasons()
	slices.Sort(reasons)
	if want := []string{"unexpected_eof", "unknown_transaction"}; !slices.Equal(reasons, want) {
		t.Errorf("server error reasons %q, want %q", reasons, want)
	}
}

// repoRoot finds the module root above the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/rcp/rcp\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/rcp/rcp above the working directory")
		}
		dir = parent
	}
}
