// Package rcpdtest runs real rcpd processes for the tests of the commands
// (cmd/rcpd end to end, cmd/rcpbench): it builds the binary once per test
// binary, gives each deployment a MySQL database and a Redis key prefix of
// its own on the services that `make test` started, and starts and stops
// processes.
package rcpdtest

import (
	"bytes"
	"database/sql"
	"fmt"
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
)

// Build compiles rcpd into a new temporary directory (with the race
// detector if race) and returns the binary and a func that removes it.
// Call it from TestMain.
func Build(race bool) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "rcpd-bin")
	if err != nil {
		return "", nil, fmt.Errorf("build rcpd: %w", err)
	}
	bin = filepath.Join(dir, "rcpd")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/rcp/rcp/cmd/rcpd")...).CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build rcpd: %w\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Env is one isolated deployment: a database and a key prefix of its own on
// the test MariaDB and Redis. Nodes it starts share them.
type Env struct {
	RedisURL string
	DSN      string // the deployment's database
	Prefix   string // RCP_KEY_PREFIX
	// Extra are RCP_* assignments every node of the env gets (after the
	// defaults, so they win).
	Extra []string
}

var envSeq atomic.Int64

// NewEnv creates the database (dropped when t ends); name prefixes its name
// and the key prefix.
func NewEnv(t testing.TB, name string) *Env {
	t.Helper()
	redisURL, rootDSN := os.Getenv("RCP_TEST_REDIS_URL"), os.Getenv("RCP_TEST_MYSQL_DSN")
	if redisURL == "" || rootDSN == "" {
		t.Fatal("RCP_TEST_REDIS_URL and RCP_TEST_MYSQL_DSN must be set: run the tests with `make test`")
	}
	db := fmt.Sprintf("%s_%d_%d", name, os.Getpid(), envSeq.Add(1))
	root, err := sql.Open("mysql", rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if r, err := sql.Open("mysql", rootDSN); err == nil {
			r.Exec("DROP DATABASE IF EXISTS " + db)
			r.Close()
		}
	})
	cfg, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = db
	return &Env{RedisURL: redisURL, DSN: cfg.FormatDSN(), Prefix: strings.ReplaceAll(db, "_", "-")}
}

// Node is one running rcpd process.
type Node struct {
	Cmd  *exec.Cmd
	Addr string        // host:port it listens on
	Log  *SyncBuffer   // its stdout and stderr
	Done chan struct{} // closed once it has exited
}

// Secret is the RCP_JWT_SECRET of every node.
const Secret = "rcpd-test-secret-0123456789abcdef0123"

// Start runs `rcpd serve` (bin) with the env's settings, then extra, and
// waits until /readyz answers 200. When t ends the process gets stop
// (SIGKILL is the quick choice; SIGTERM drains) and is killed 10 s later if
// still running.
func (e *Env) Start(t testing.TB, bin string, stop syscall.Signal, extra ...string) *Node {
	t.Helper()
	return e.run(t, bin, "serve", "/readyz", true, stop, extra)
}

// StartArchiver runs `rcpd archiver` (bin) as Start does and waits until
// /healthz answers at all.
func (e *Env) StartArchiver(t testing.TB, bin string, stop syscall.Signal, extra ...string) *Node {
	t.Helper()
	return e.run(t, bin, "archiver", "/healthz", false, stop, extra)
}

func (e *Env) run(t testing.TB, bin, sub, ready string, need200 bool, stop syscall.Signal, extra []string) *Node {
	t.Helper()
	n := &Node{Addr: FreeAddr(t), Log: &SyncBuffer{}, Done: make(chan struct{})}
	n.Cmd = exec.Command(bin, sub)
	n.Cmd.Env = append(os.Environ(),
		"RCP_LISTEN="+n.Addr, "RCP_REDIS_URL="+e.RedisURL, "RCP_MYSQL_DSN="+e.DSN,
		"RCP_KEY_PREFIX="+e.Prefix, "RCP_JWT_SECRET="+Secret, "RCP_PARTITIONS=4",
		"RCP_SHUTDOWN_TIMEOUT=3s")
	n.Cmd.Env = append(append(n.Cmd.Env, e.Extra...), extra...)
	n.Cmd.Stdout, n.Cmd.Stderr = n.Log, n.Log
	if err := n.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.Cmd.Wait(); close(n.Done) }()
	t.Cleanup(func() { n.Kill(stop) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get("http://" + n.Addr + ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || !need200 {
				return n
			}
		}
		select {
		case <-n.Done:
			t.Fatalf("rcpd %s exited during start:\n%s", sub, n.Log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("rcpd %s not ready within 30s:\n%s", sub, n.Log)
		}
	}
}

// Kill signals the process and waits for it to exit (SIGKILL after 10 s).
func (n *Node) Kill(sig syscall.Signal) {
	select {
	case <-n.Done:
		return
	default:
	}
	n.Cmd.Process.Signal(sig)
	select {
	case <-n.Done:
	case <-time.After(10 * time.Second):
		n.Cmd.Process.Kill()
		<-n.Done
	}
}

// SyncBuffer is a bytes.Buffer a process writes while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// FreeAddr returns a loopback address with a port free at the moment.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
