package main

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/rcp/rcp/cmd/rcpd/rcpdtest"
)

// rcpdBin is the rcpd binary built once for the package's tests (without
// -race: the benchmark measures the server as deployed).
var rcpdBin string

const testSecret = rcpdtest.Secret

func TestMain(m *testing.M) {
	bin, remove, err := rcpdtest.Build(false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rcpdBin = bin
	code := m.Run()
	remove()
	os.Exit(code)
}

// server is one rcpd process on the test Redis and MariaDB, in a deployment
// (key prefix and database) of its own.
type server struct {
	addr, prefix, redisURL string
	log                    *rcpdtest.SyncBuffer
}

// startRcpd starts rcpd with extraEnv (RCP_* assignments); it drains on
// SIGTERM when the test ends.
func startRcpd(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	e := rcpdtest.NewEnv(t, "bench")
	n := e.Start(t, rcpdBin, syscall.SIGTERM, extraEnv...)
	return &server{addr: n.Addr, prefix: e.Prefix, redisURL: e.RedisURL, log: n.Log}
}
