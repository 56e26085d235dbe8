package stomp_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

func TestSessionConnectNegotiatesVersion(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{ServerName: "rcp-test/1"})
		for _, tc := range []struct{ accept, want string }{
			{"", "1.0"}, // no accept-version: a STOMP 1.0 client
			{"1.0", "1.0"},
			{"1.1", "1.1"},
			{"1.2", "1.2"},
			{"1.0,1.1", "1.1"},
			{"1.1,1.0,1.2", "1.2"},
			{"1.2,2.0", "1.2"},
		} {
			c := s.dial(t, kind)
			f := stomp.NewFrame(stomp.CmdConnect, nil, "host", "rcp", "login", "ann")
			if tc.accept != "" {
				f.Header.Add("accept-version", tc.accept)
			}
			if err := c.writeRaw(stomp.AppendFrame(nil, f, stomp.V12)); err != nil {
				t.Fatal(err)
			}
			cf := c.expect(stomp.CmdConnected)
			if got := cf.Header.Value("version"); got != tc.want {
				t.Errorf("accept-version %q: version %q, want %q", tc.accept, got, tc.want)
			}
			c.close()
		}
	})
}

func TestSessionConnectedHeaders(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{
			ServerName: "rcp-test/1", HeartbeatSend: 4 * time.Second, HeartbeatRecv: 3 * time.Second,
		})
		sessions := map[string]bool{}
		for _, cmd := range []string{stomp.CmdConnect, stomp.CmdStomp} {
			c := s.dial(t, kind)
			f := stomp.NewFrame(cmd, nil, "accept-version", "1.2", "host", "rcp",
				"login", "bob", "heart-beat", "0,0", "receipt", "c-1")
			if err := c.writeRaw(stomp.AppendFrame(nil, f, stomp.V12)); err != nil {
				t.Fatal(err)
			}
			cf := c.expect(stomp.CmdConnected)
			for k, want := range map[string]string{
				"version": "1.2", "server": "rcp-test/1", "heart-beat": "4000,3000", "user-name": "bob",
			} {
				if got := cf.Header.Value(k); got != want {
					t.Errorf("%s: CONNECTED %s %q, want %q", cmd, k, got, want)
				}
			}
			id := cf.Header.Value("session")
			if id == "" || sessions[id] {
				t.Errorf("%s: session %q is empty or repeated", cmd, id)
			}
			sessions[id] = true
			if r := c.expect(stomp.CmdReceipt); r.Header.Value("receipt-id") != "c-1" {
				t.Errorf("CONNECT receipt: %v", r.Header)
			}
		}
	})
}

func TestSessionConnectRefusals(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		h := memtopic.New()
		h.Auth = func(f *stomp.Frame) (string, error) {
			if f.Header.Value("passcode") != "secret" {
				return "", stomp.Refuse(nil, "bad credentials", "passcode rejected")
			}
			return f.Header.Value("login"), nil
		}
		s := startSess(t, h, stomp.Config{})

		c := s.dial(t, kind)
		c.send(stomp.CmdSend, "hi", "destination", "/topic/a")
		c.expectError("frame before CONNECT")

		c = s.dial(t, kind)
		c.send(stomp.CmdConnect, "", "accept-version", "2.0,3.1", "host", "rcp")
		f := c.expectError("unsupported protocol version")
		if len(f.Body) == 0 {
			t.Error("unsupported version ERROR has no body")
		}

		c = s.dial(t, kind)
		c.send(stomp.CmdConnect, "", "accept-version", "1.2", "login", "ann", "passcode", "nope")
		c.expectError("bad credentials")

		c = s.dial(t, kind)
		c.send(stomp.CmdConnect, "", "accept-version", "1.2", "heart-beat", "ten,0")
		c.expectError("protocol violation")

		c = s.dial(t, kind)
		c.connect("ann", "passcode", "secret")
		c.send(stomp.CmdConnect, "", "accept-version", "1.2", "login", "ann", "passcode", "secret")
		c.expectError("second CONNECT")
	})
}

// countBeats reads heart-beat EOLs until n arrived or within fails; a frame
// fails the test. It returns when the n-th one came.
func countBeats(t *testing.T, c *sessClient, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(within)
	for got := 0; got < n; {
		f, err := c.next(time.Until(deadline))
		if err != nil {
			t.Fatalf("%d of %d heart-beats after %s: %v", got, n, time.Since(start), err)
		}
		if f != nil {
			t.Fatalf("got %s, want heart-beats only", describeFrame(f))
		}
		got++
	}
	return time.Since(start)
}

func TestSessionServerHeartbeats(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		const every = 50 * time.Millisecond
		s := startSess(t, memtopic.New(), stomp.Config{HeartbeatSend: every})

		c := s.dial(t, kind)
		cf := c.connect("ann", "heart-beat", "0,50")
		if got := cf.Header.Value("heart-beat"); got != "50,0" {
			t.Fatalf("CONNECTED heart-beat %q, want 50,0", got)
		}
		const n = 8
		// They come at the negotiated interval: not faster, and not much
		// slower (the slack is for a loaded machine running -race).
		took := countBeats(t, c, n, beatsWithin(n, every))
		if took < (n-1)*every {
			t.Errorf("%d heart-beats in %s, want at most one per %s", n, took, every)
		}

		// The interval is the larger of the two offers.
		c = s.dial(t, kind)
		c.connect("bob", "heart-beat", "0,120")
		if took := countBeats(t, c, 3, beatsWithin(3, 120*time.Millisecond)); took < 2*120*time.Millisecond {
			t.Errorf("3 heart-beats in %s, want ≥ 240ms at 120ms each", took)
		}

		// Client asks for none: the server stays silent.
		c = s.dial(t, kind)
		c.connect("cid", "heart-beat", "0,0")
		assertSilent(t, c, 6*every)
	})
}

// TestSessionHeartbeatsNotForV10: STOMP 1.0 has no heart-beating.
func TestSessionHeartbeatsNotForV10(t *testing.T) {
	s := startSess(t, memtopic.New(), stomp.Config{HeartbeatSend: 20 * time.Millisecond, HeartbeatRecv: 20 * time.Millisecond})
	c := s.dial(t, "tcp")
	c.send(stomp.CmdConnect, "", "login", "ann", "heart-beat", "20,20") // no accept-version
	if v := c.expect(stomp.CmdConnected).Header.Value("version"); v != "1.0" {
		t.Fatalf("version %q", v)
	}
	c.ver, c.r.Version = stomp.V10, stomp.V10
	assertSilent(t, c, 200*time.Millisecond) // no EOLs, and not dropped for silence
	c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a")
}

// beatsWithin is how long n heart-beats every d may take at most.
func beatsWithin(n int, d time.Duration) time.Duration {
	return time.Duration(n)*d*2 + 500*time.Millisecond
}

// assertSilent fails if anything arrives within d.
func assertSilent(t *testing.T, c *sessClient, d time.Duration) {
	t.Helper()
	f, err := c.next(d)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		if err == nil && f == nil {
			t.Fatal("got a heart-beat, want silence")
		}
		if err == nil {
			t.Fatalf("got %s, want silence", describeFrame(f))
		}
		t.Fatalf("connection failed: %v", err)
	}
}

func TestSessionSilentClientClosedAfterGrace(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		const every = 50 * time.Millisecond
		s := startSess(t, memtopic.New(), stomp.Config{HeartbeatRecv: every, HeartbeatGrace: 2})
		c := s.dial(t, kind)
		cf := c.connect("ann", "heart-beat", "30,0")
		if got := cf.Header.Value("heart-beat"); got != "0,50" {
			t.Fatalf("CONNECTED heart-beat %q, want 0,50", got)
		}
		start := time.Now()
		c.expectError("no data from client within heart-beat grace")
		if took := time.Since(start); took < 2*every {
			t.Errorf("closed after %s, before the grace of 2×%s", took, every)
		}
		if s.obs.Errors("no_data_from_client_within_heart-beat_grace") != 1 {
			t.Error("heart-beat timeout not reported to the observer")
		}
	})
}

func TestSessionClientHeartbeatsKeepAlive(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		const every = 40 * time.Millisecond
		s := startSess(t, memtopic.New(), stomp.Config{HeartbeatRecv: every, HeartbeatGrace: 3})
		c := s.dial(t, kind)
		c.connect("ann", "heart-beat", "40,0")
		// Ten intervals of heart-beats only, well past the 120ms grace.
		tick := time.NewTicker(every / 2)
		defer tick.Stop()
		for range 20 {
			<-tick.C
			if err := c.writeRaw([]byte("\n")); err != nil {
				t.Fatalf("heart-beat: %v", err)
			}
		}
		c.callQuiet(stomp.CmdSubscribe, "", "destination", "/topic/a", "id", "0")
		c.callQuiet(stomp.CmdDisconnect, "")
		c.expectClosed()
	})
}

func TestSessionFrameTimeout(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{FrameTimeout: 80 * time.Millisecond, ConnectTimeout: 80 * time.Millisecond})

		// A CONNECT that never comes.
		c := s.dial(t, kind)
		c.expectError("frame not completed in time")

		// A frame that starts and never ends.
		c = s.dial(t, kind)
		c.connect("ann")
		if err := c.writeRaw([]byte("SEND\ndestination:/topic/a\n")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c.expectError("frame not completed in time")
		if took := time.Since(start); took < 60*time.Millisecond {
			t.Errorf("timed out after %s, before the 80ms frame timeout", took)
		}
	})
}

func TestSessionDisconnectReceipt(t *testing.T) {
	forEachTransport(t, func(t *testing.T, kind string) {
		s := startSess(t, memtopic.New(), stomp.Config{})
		c := s.dial(t, kind)
		c.connect("ann")
		c.callQuiet(stomp.CmdDisconnect, "")
		c.expectClosed()
		s.obs.waitFor(t, "no open sessions", func() bool { return s.srv.ConnCount() == 0 })
	})
}
