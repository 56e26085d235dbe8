package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/cmd/rcpd/rcpdtest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/stomp/wsnet"
)

// rcpdBin is the rcpd binary built once (with -race) for the package's tests.
var rcpdBin string

const testSecret = rcpdtest.Secret

func TestMain(m *testing.M) {
	bin, remove, err := rcpdtest.Build(true)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rcpdBin = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// env is one isolated deployment (its own MySQL database and Redis key
// prefix on the test services that make test started), seen by one test.
type env struct {
	*rcpdtest.Env
	t *testing.T
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{Env: rcpdtest.NewEnv(t, "e2e"), t: t}
}

// node is one running rcpd process.
type node struct {
	*rcpdtest.Node
	t *testing.T
}

// start runs rcpd serve and waits until /readyz answers 200; the process
// is killed (SIGKILL) when the test ends, if it still runs.
func (e *env) start() *node {
	e.t.Helper()
	return &node{Node: e.Start(e.t, rcpdBin, syscall.SIGKILL), t: e.t}
}

func (n *node) wsURL() string { return "ws://" + n.Addr + "/ws" }

func token(t *testing.T, sub string, scopes ...string) string {
	t.Helper()
	tok, err := gateway.MintHS256([]byte(testSecret), sub, scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// api calls the REST API as an admin and decodes the JSON reply into out.
func (n *node) api(method, path string, body any, out any) int {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+n.Addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+token(n.t, "admin", "rooms:admin"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (n *node) createRoom(id string, members ...string) {
	n.t.Helper()
	code := n.api("POST", "/v1/rooms", map[string]any{"id": id, "name": id, "kind": "group",
		"members": members, "textRetentionDays": 0, "mediaRetentionDays": 0}, nil)
	if code != 201 && code != 200 {
		n.t.Fatalf("create room %s: %d", id, code)
	}
}

// client is a go-stomp client over the WebSocket endpoint.
type client struct {
	*gostomp.Conn
	user string
}

var dialMu sync.Mutex

func (n *node) connect(user string) *client {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := wsnet.Dial(ctx, n.wsURL())
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := gostomp.Connect(nc, gostomp.ConnOpt.Header("Authorization", "Bearer "+token(n.t, user)),
		gostomp.ConnOpt.HeartBeat(0, 0))
	if err != nil {
		n.t.Fatalf("connect %s: %v", user, err)
	}
	n.t.Cleanup(func() { c.MustDisconnect() })
	return &client{Conn: c, user: user}
}

func textBody(s string) []byte {
	b, _ := json.Marshal(map[string]string{"type": "text", "text": s})
	return b
}
