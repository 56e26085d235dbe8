package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/stomp/wsnet"
)

// rcpdBin is the rcpd binary built once for the package's tests.
var rcpdBin string

const testSecret = "e2e-secret-0123456789abcdef0123456789"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rcpd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rcpdBin = filepath.Join(dir, "rcpd")
	out, err := exec.Command("go", "build", "-race", "-o", rcpdBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build rcpd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one isolated deployment: its own MySQL database and Redis key
// prefix on the test services that make test started.
type env struct {
	t        *testing.T
	redisURL string
	dsn      string
	prefix   string
	extra    []string
}

var envSeq atomic.Int64

func newEnv(t *testing.T) *env {
	t.Helper()
	redisURL, rootDSN := os.Getenv("RCP_TEST_REDIS_URL"), os.Getenv("RCP_TEST_MYSQL_DSN")
	if redisURL == "" || rootDSN == "" {
		t.Fatal("RCP_TEST_REDIS_URL and RCP_TEST_MYSQL_DSN must be set: run the tests with `make test`")
	}
	name := fmt.Sprintf("e2e_%d_%d", os.Getpid(), envSeq.Add(1))
	root, err := sql.Open("mysql", rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if db, err := sql.Open("mysql", rootDSN); err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name)
			db.Close()
		}
	})
	cfg, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return &env{t: t, redisURL: redisURL, dsn: cfg.FormatDSN(), prefix: strings.ReplaceAll(name, "_", "-")}
}

// node is one running rcpd process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	log  *syncBuffer // written by the process while tests may read it
	done chan struct{}
}

// syncBuffer is a bytes.Buffer a process writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs rcpd and waits until /readyz answers 200.
func (e *env) start() *node {
	t := e.t
	t.Helper()
	n := &node{t: t, addr: freePort(t), log: &syncBuffer{}, done: make(chan struct{})}
	n.cmd = exec.Command(rcpdBin, "serve")
	n.cmd.Env = append(os.Environ(),
		"RCP_LISTEN="+n.addr, "RCP_REDIS_URL="+e.redisURL, "RCP_MYSQL_DSN="+e.dsn,
		"RCP_KEY_PREFIX="+e.prefix, "RCP_JWT_SECRET="+testSecret, "RCP_PARTITIONS=4",
		"RCP_SHUTDOWN_TIMEOUT=3s")
	n.cmd.Env = append(n.cmd.Env, e.extra...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() { n.kill(syscall.SIGKILL) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + n.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("rcpd exited during start:\n%s", n.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("rcpd not ready within 20s:\n%s", n.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill signals the process and waits for it to exit.
func (n *node) kill(sig syscall.Signal) {
	select {
	case <-n.done:
		return
	default:
	}
	n.cmd.Process.Signal(sig)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

func (n *node) wsURL() string { return "ws://" + n.addr + "/ws" }

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
	req, _ := http.NewRequest(method, "http://"+n.addr+path, rd)
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
