package queriestest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/queries"
)

// Server is a private MariaDB server (mariadbd) owned by one test, for
// tests that stop, kill and restart MySQL under a running system. Its data
// directory survives Kill and Start; it is removed when the test ends. The
// server runs with MariaDB's durable defaults (a committed transaction
// survives SIGKILL).
type Server struct {
	tb   testing.TB
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

// StartServer installs a new data directory and starts mariadbd on a free
// loopback port. It fails the test if mariadb-install-db or mariadbd is
// missing (make test-deps installs them).
func StartServer(tb testing.TB) *Server {
	tb.Helper()
	dir, err := os.MkdirTemp("", "rcp-mariadb-") // short: the socket path must fit 108 bytes
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, dir: dir, port: freePort(tb)}
	tb.Cleanup(func() {
		s.Kill()
		os.RemoveAll(dir)
	})
	install := exec.Command(binary(tb, "mariadb-install-db"), "--no-defaults", "--user=root",
		"--datadir="+filepath.Join(dir, "data"), "--auth-root-authentication-method=normal", "--skip-test-db")
	if out, err := install.CombinedOutput(); err != nil {
		tb.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	s.Start()
	return s
}

func binary(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	tb.Fatalf("%s not found: install mariadb-server (make test-deps)", name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// DSN is the server's root DSN without a database, like RCP_TEST_MYSQL_DSN.
func (s *Server) DSN() string { return fmt.Sprintf("root@tcp(127.0.0.1:%d)/", s.port) }

// DatabaseDSN is the DSN of database name on the server.
func (s *Server) DatabaseDSN(name string) string {
	cfg, _ := mysql.ParseDSN(s.DSN())
	cfg.DBName = name
	return cfg.FormatDSN()
}

// Start runs mariadbd (again) on the same port and data directory and waits
// until it answers, at most a minute (crash recovery included).
func (s *Server) Start() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.tb.Fatal("queriestest: server already running")
	}
	cmd := exec.Command(binary(s.tb, "mariadbd"), "--no-defaults", "--user=root",
		"--datadir="+filepath.Join(s.dir, "data"), "--port="+strconv.Itoa(s.port), "--bind-address=127.0.0.1",
		"--socket="+filepath.Join(s.dir, "sock"), "--pid-file="+filepath.Join(s.dir, "pid"),
		"--character-set-server=utf8mb4", "--innodb-buffer-pool-size=64M", "--max-connections=200")
	s.log.Reset()
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start mariadbd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done = cmd, done
	if err := s.waitReady(done); err != nil {
		s.tb.Fatalf("mariadbd on port %d: %v\n%s", s.port, err, s.log.String())
	}
}

func (s *Server) waitReady(done chan struct{}) error {
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		db, err := queries.Open(ctx, s.DSN())
		cancel()
		if err == nil {
			db.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited during start: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within a minute: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server with SIGKILL (no shutdown, as a crash) and waits
// for it to exit. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd, s.done = nil, nil
}

// NewDB creates database name, migrates it and returns a connection opened
// with queries.Open, closed when the test ends.
func (s *Server) NewDB(name string) *sql.DB {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := queries.Open(ctx, s.DSN())
	if err != nil {
		s.tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		s.tb.Fatalf("create database %s: %v", name, err)
	}
	db, err := queries.Open(ctx, s.DatabaseDSN(name))
	if err != nil {
		s.tb.Fatal(err)
	}
	s.tb.Cleanup(func() { db.Close() })
	if err := queries.Migrate(ctx, db); err != nil {
		s.tb.Fatalf("migrate %s: %v", name, err)
	}
	return db
}
