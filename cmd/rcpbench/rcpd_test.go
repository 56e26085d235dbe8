package main

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
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// rcpdBin is the rcpd binary built once for the package's tests (without
// -race: the benchmark measures the server as deployed).
var rcpdBin string

const testSecret = "bench-test-secret-0123456789abcdef0123"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rcpbench-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rcpdBin = filepath.Join(dir, "rcpd")
	if out, err := exec.Command("go", "build", "-o", rcpdBin, "../rcpd").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rcpd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one rcpd process on the test Redis (a key prefix of its own)
// and the test MariaDB (a database of its own).
type server struct {
	addr, prefix, redisURL string
	log                    *syncBuffer
}

// syncBuffer is rcpd's output, written by exec's copier, read by failing tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startRcpd(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	redisURL, rootDSN := os.Getenv("RCP_TEST_REDIS_URL"), os.Getenv("RCP_TEST_MYSQL_DSN")
	if redisURL == "" || rootDSN == "" {
		t.Fatal("RCP_TEST_REDIS_URL and RCP_TEST_MYSQL_DSN must be set: run the tests with `make test`")
	}
	name := fmt.Sprintf("bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	createDB(t, rootDSN, name)
	cfg, err := mysql.ParseDSN(rootDSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	s := &server{addr: freeAddr(t), prefix: strings.ReplaceAll(name, "_", "-"), redisURL: redisURL, log: &syncBuffer{}}
	cmd := exec.Command(rcpdBin, "serve")
	cmd.Env = append(os.Environ(), "RCP_LISTEN="+s.addr, "RCP_REDIS_URL="+redisURL,
		"RCP_MYSQL_DSN="+cfg.FormatDSN(), "RCP_KEY_PREFIX="+s.prefix, "RCP_JWT_SECRET="+testSecret,
		"RCP_PARTITIONS=4", "RCP_SHUTDOWN_TIMEOUT=3s")
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	waitReady(t, s, done)
	return s
}

func waitReady(t *testing.T, s *server, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + s.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-done:
			t.Fatalf("rcpd exited during start:\n%s", s.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("rcpd not ready within 30s:\n%s", s.log)
}

func createDB(t *testing.T, rootDSN, name string) {
	t.Helper()
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
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
