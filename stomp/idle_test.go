//go:build linux

package stomp_test

// TestIdleMemory measures what an idle WebSocket STOMP session costs the
// server. It is off by default (it opens 10,000 connections and takes about
// a minute):
//
//	RCP_IDLEMEM=1 go test ./stomp -run TestIdleMemory -v -count=1 -timeout 10m
//
// RCP_IDLEMEM_N changes the number of connections; RCP_IDLEMEM_PROFILE=dir
// writes heap and goroutine profiles of the server there. The clients run in
// a child process (this test binary again), so the figures are the server's
// alone: Go heap and stacks from runtime.MemStats after a GC, and VmRSS.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

const (
	idleTarget   = 20 << 10 // bytes per idle connection
	idleDest     = "/topic/idle"
	idleChildEnv = "RCP_IDLEMEM_CHILD" // set in the client process
)

func TestIdleMemory(t *testing.T) {
	if os.Getenv(idleChildEnv) != "" {
		idleClients(t)
		return
	}
	if os.Getenv("RCP_IDLEMEM") == "" {
		t.Skip("set RCP_IDLEMEM=1 to measure idle connection memory (10,000 connections, about a minute)")
	}
	if raceBuild() {
		t.Skip("the race detector inflates memory; run without -race")
	}
	n := 10000
	if v := os.Getenv("RCP_IDLEMEM_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("RCP_IDLEMEM_N=%q", v)
		}
	}
	raiseNofile(t, uint64(n)+10000)
	for _, hb := range []string{"0,0", "10000,10000"} {
		t.Run("heart-beat="+hb, func(t *testing.T) { measureIdle(t, n, hb) })
	}
}

type memSample struct {
	heap, stack, rss uint64
	goroutines       int
}

func sampleMem(t *testing.T) memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSample{heap: ms.HeapInuse, stack: ms.StackInuse, rss: vmRSS(t), goroutines: runtime.NumGoroutine()}
}

func (s memSample) perConn(base memSample, n int) (heap, stack, rss float64, goroutines float64) {
	d := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return d(s.heap, base.heap), d(s.stack, base.stack), d(s.rss, base.rss),
		float64(s.goroutines-base.goroutines) / float64(n)
}

func measureIdle(t *testing.T, n int, hb string) {
	h := memtopic.New()
	srv := stomp.NewServer(h, stomp.Config{
		HeartbeatSend: 10 * time.Second, HeartbeatRecv: 10 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	defer func() { // after the client process is gone: no session outlives the subtest
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()

	base := sampleMem(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleMemory$", "-test.v")
	cmd.Env = append(os.Environ(), idleChildEnv+"=1",
		"RCP_IDLEMEM_URL=ws://"+ln.Addr().String()+"/ws",
		"RCP_IDLEMEM_N="+strconv.Itoa(n), "RCP_IDLEMEM_HB="+hb)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close() // the child exits at EOF
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "IDLEMEM ") {
				ready <- line
			}
		}
		close(ready)
	}()
	select {
	case line, ok := <-ready:
		if !ok || line != "IDLEMEM READY" {
			t.Fatalf("client process: %q", line)
		}
	case <-time.After(5 * time.Minute):
		t.Fatal("clients not connected within 5 minutes")
	}
	if got, subs := srv.ConnCount(), h.Subscribers(idleDest); got != n || subs != n {
		t.Fatalf("%d sessions, %d subscriptions; want %d", got, subs, n)
	}
	t.Logf("%d connections up in %s", n, time.Since(start).Round(time.Millisecond))

	report := func(when string) (heap, rss float64) {
		s := sampleMem(t)
		heap, stack, rss, g := s.perConn(base, n)
		t.Logf("%s: per connection: heap %.0f B + stacks %.0f B = %.1f KiB; RSS %.1f KiB; %.1f goroutines",
			when, heap, stack, (heap+stack)/1024, rss/1024, g)
		return heap + stack, rss
	}
	report("just connected")
	// Idle for one heart-beat period and a half, so each session has sent
	// and received heart-beats (their timers fired, their writers ran).
	idle := 15 * time.Second
	time.Sleep(idle) // the measured state is "idle for a while", not a synchronisation
	heapStack, rss := report("idle " + idle.String())
	if got := srv.ConnCount(); got != n {
		t.Fatalf("%d sessions left after idling, want %d", got, n)
	}
	if dir := os.Getenv("RCP_IDLEMEM_PROFILE"); dir != "" {
		writeProfiles(t, dir, strings.ReplaceAll(hb, ",", "-"))
	}
	if heapStack > idleTarget {
		t.Errorf("heap+stacks %.1f KiB per idle connection, target %d KiB", heapStack/1024, idleTarget>>10)
	}
	if rss > idleTarget {
		t.Errorf("RSS %.1f KiB per idle connection, target %d KiB", rss/1024, idleTarget>>10)
	}
}

// idleClients runs in the child process: it opens the connections,
// subscribes each, prints IDLEMEM READY and holds them until stdin closes,
// sending heart-beats if they were negotiated.
func idleClients(t *testing.T) {
	url, hb := os.Getenv("RCP_IDLEMEM_URL"), os.Getenv("RCP_IDLEMEM_HB")
	n, err := strconv.Atoi(os.Getenv("RCP_IDLEMEM_N"))
	if err != nil {
		t.Fatal(err)
	}
	raiseNofile(t, uint64(n)+10000)
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ws, err := idleDial(url, hb, i)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					continue
				}
				conns[i] = ws
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fmt.Println("IDLEMEM READY")

	stop := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(stop) }()
	var beat <-chan time.Time
	if hb != "0,0" {
		tick := time.NewTicker(5 * time.Second) // half the 10s the server expects
		defer tick.Stop()
		beat = tick.C
	}
	for {
		select {
		case <-beat:
			for _, ws := range conns {
				ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
				if err := ws.WriteMessage(websocket.TextMessage, []byte("\n")); err != nil {
					t.Fatalf("heart-beat: %v", err)
				}
			}
		case <-stop:
			for _, ws := range conns {
				ws.Close()
			}
			return
		}
	}
}

func idleDial(url, hb string, i int) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, Subprotocols: []string{"v12.stomp"},
		ReadBufferSize: 256, WriteBufferSize: 256}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	frames := [][]byte{
		stomp.AppendFrame(nil, stomp.NewFrame(stomp.CmdConnect, nil, "accept-version", "1.2",
			"host", "rcp", "login", fmt.Sprint("u", i), "heart-beat", hb), stomp.V12),
		stomp.AppendFrame(nil, stomp.NewFrame(stomp.CmdSubscribe, nil, "id", "0",
			"destination", idleDest, "receipt", "s"), stomp.V12),
	}
	for _, want := range []string{"CONNECTED\n", "RECEIPT\n"} {
		if err := ws.WriteMessage(websocket.TextMessage, frames[0]); err != nil {
			ws.Close()
			return nil, err
		}
		frames = frames[1:]
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				ws.Close()
				return nil, err
			}
			if string(msg) == "\n" {
				continue // a heart-beat
			}
			if !strings.HasPrefix(string(msg), want) {
				ws.Close()
				return nil, fmt.Errorf("got %q, want %s", msg, want)
			}
			break
		}
	}
	ws.SetReadDeadline(time.Time{})
	ws.SetWriteDeadline(time.Time{})
	return ws, nil
}

func raiseNofile(t *testing.T, want uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= want {
		return
	}
	lim.Cur = want
	lim.Max = max(lim.Max, want)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", want, err)
	}
}

func vmRSS(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

func raceBuild() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func writeProfiles(t *testing.T, dir, tag string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, p+"-"+tag+".pprof"))
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.Lookup(p).WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Logf("profiles in %s", dir)
}
