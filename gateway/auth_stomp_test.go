package gateway_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/stomp"
)

// TestAuthOverSTOMPConnect runs the auth table through a real STOMP CONNECT
// (TCP transport, the rcpd handler): every token the REST API accepts gets
// CONNECTED with its sub as user-name, every refusal an ERROR "authentication
// failed" whose body is the reason. CONNECT needs no scope, so the two
// scope-only refusals of the room API are accepted here.
func TestAuthOverSTOMPConnect(t *testing.T) {
	addr := startAuthSTOMP(t)
	for _, c := range authCases(t) {
		t.Run(c.name, func(t *testing.T) {
			f := connectWith(t, addr, "Authorization", c.header)
			want := c.want
			if want == gateway.ErrInsufficientScope {
				want = nil
			}
			if want == nil {
				if f.Command != stomp.CmdConnected || f.Header.Value("user-name") == "" {
					t.Fatalf("refused: %s %v %s", f.Command, f.Header, f.Body)
				}
				return
			}
			if f.Command != stomp.CmdError || f.Header.Value("message") != "authentication failed" ||
				!strings.HasPrefix(string(f.Body), want.Reason) {
				t.Fatalf("got %s %v %q, want ERROR with %q", f.Command, f.Header, f.Body, want.Reason)
			}
		})
	}
	t.Run("token as passcode", func(t *testing.T) {
		tok := strings.TrimPrefix(authCases(t)[0].header, "Bearer ")
		if f := connectWith(t, addr, "passcode", tok); f.Command != stomp.CmdConnected || f.Header.Value("user-name") != "ops" {
			t.Fatalf("passcode refused: %s %v %s", f.Command, f.Header, f.Body)
		}
	})
}

func startAuthSTOMP(t *testing.T) string {
	t.Helper()
	v := newVerifier(t, gateway.VerifierConfig{Secret: testSecret, JWKS: standardJWKS(t)})
	b := brokertest.New(t)
	h := gateway.NewSTOMPHandler(v, b, gateway.NewRouter(nil), gateway.DefaultSTOMPConfig(), testLogger(t))
	srv := stomp.NewServer(h, stomp.Config{Logger: testLogger(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTCP(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// connectWith sends one CONNECT carrying the header (when value is not
// empty) and returns the server's answer.
func connectWith(t *testing.T, addr, key, value string) *stomp.Frame {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	connect := stomp.NewFrame(stomp.CmdConnect, nil, "accept-version", "1.2", "host", "rcp")
	if value != "" {
		connect.Header.Add(key, value)
	}
	if _, err := nc.Write(stomp.AppendFrame(nil, connect, stomp.V12)); err != nil {
		t.Fatal(err)
	}
	f, err := stomp.NewReader(nc, stomp.DefaultLimits()).ReadFrame()
	if err != nil {
		t.Fatalf("no answer to CONNECT: %v", err)
	}
	return f
}
