package gateway_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcp/rcp/gateway"
)

// jwksServer serves a JWKS that the test can replace, counting fetches.
type jwksServer struct {
	body    atomic.Pointer[[]byte]
	fetches atomic.Int64
	*httptest.Server
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{}
	s.body.Store(&body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// TestJWKSURLRotationOnUnknownKID: a token signed by a key added to the set
// after startup verifies at once (its unknown kid triggers a re-read), and a
// key removed from the set stops verifying.
func TestJWKSURLRotationOnUnknownKID(t *testing.T) {
	k := keys()
	srv := newJWKSServer(t, jwksJSON(t, jwk{kid: "old", pub: &k.rsa.PublicKey}, jwk{kid: "ec", pub: &k.ec.PublicKey}))
	v := newVerifier(t, gateway.VerifierConfig{JWKS: srv.URL + "/jwks.json"})
	old := sign(t, jwt.SigningMethodRS256, k.rsa, "old", claims("alice", ""))
	if _, err := v.Verify(t.Context(), old); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	// Keys without "alg" are pinned by type: an RS256 token cannot use the EC key.
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, k.rsa, "ec", claims("alice", ""))); !errors.Is(err, gateway.ErrWrongAlg) {
		t.Fatalf("RS256 token on the EC key: %v, want ErrWrongAlg", err)
	}

	rotated := jwksJSON(t, jwk{kid: "new", pub: &k.rsaOther.PublicKey})
	srv.body.Store(&rotated)
	before := srv.fetches.Load()
	p, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, k.rsaOther, "new", claims("bob", "")))
	if err != nil || p.UserID != "bob" {
		t.Fatalf("new key after rotation: %+v, %v", p, err)
	}
	if srv.fetches.Load() != before+1 {
		t.Fatalf("fetches %d → %d, want one re-read for the unknown kid", before, srv.fetches.Load())
	}
	if _, err := v.Verify(t.Context(), old); !errors.Is(err, gateway.ErrUnknownKey) {
		t.Fatalf("removed key: %v, want ErrUnknownKey", err)
	}
}

// TestJWKSFileRefreshesPeriodically: the file is re-read every JWKSRefresh,
// even when no unknown kid asks for it.
func TestJWKSFileRefreshesPeriodically(t *testing.T) {
	k := keys()
	path := writeJWKS(t, jwk{kid: "old", pub: &k.rsa.PublicKey})
	v := newVerifier(t, gateway.VerifierConfig{JWKS: path, JWKSRefresh: 100 * time.Millisecond})
	// Spend the unknown-kid re-read, so only the periodic refresh can help.
	if _, err := v.Verify(t.Context(), sign(t, jwt.SigningMethodRS256, k.rsa, "nope", claims("alice", ""))); !errors.Is(err, gateway.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}
	if err := os.WriteFile(path, jwksJSON(t, jwk{kid: "new", pub: &k.ec.PublicKey}), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodES256, k.ec, "new", claims("alice", ""))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), tok)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new key in the file never accepted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInsecureDevAuth(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	v := newVerifier(t, gateway.VerifierConfig{Secret: testSecret, InsecureDevAuth: true, Logger: logger})
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "INSECURE") {
		t.Fatalf("no loud warning logged: %q", logs.String())
	}
	ctx := t.Context()
	login := func(h map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := h[k]; return v, ok }
	}
	p, err := v.VerifyConnect(ctx, login(map[string]string{"login": "alice"}))
	if err != nil || p.UserID != "alice" || !p.HasScope(gateway.ScopeRoomsAdmin) {
		t.Fatalf("CONNECT login:alice = %+v, %v", p, err)
	}
	if p, err := v.Verify(ctx, "bob"); err != nil || p.UserID != "bob" {
		t.Fatalf("bare user id as token = %+v, %v", p, err)
	}
	if _, err := v.VerifyConnect(ctx, login(map[string]string{"login": "../root"})); !errors.Is(err, gateway.ErrInvalidSubject) {
		t.Fatalf("CONNECT login:../root = %v, want ErrInvalidSubject", err)
	}
	forged := sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-another-secret"), "", claims("root", ""))
	if _, err := v.Verify(ctx, forged); !errors.Is(err, gateway.ErrBadSignature) {
		t.Fatalf("a bad JWT in dev mode = %v, want ErrBadSignature (JWTs are still verified)", err)
	}

	strict := newVerifier(t, gateway.VerifierConfig{Secret: testSecret})
	if _, err := strict.VerifyConnect(ctx, login(map[string]string{"login": "alice"})); !errors.Is(err, gateway.ErrMissingToken) {
		t.Fatalf("login without token, dev auth off = %v, want ErrMissingToken", err)
	}
	if _, err := strict.Verify(ctx, "alice"); !errors.Is(err, gateway.ErrMalformedToken) {
		t.Fatalf("bare user id, dev auth off = %v, want ErrMalformedToken", err)
	}
}

func TestInsecureDevAuthOverREST(t *testing.T) {
	e := newEnvWith(t, envConfig{verifier: gateway.VerifierConfig{InsecureDevAuth: true}})
	e.must(http.StatusCreated, "POST", "/v1/rooms", "ops", group("dev", "alice"))
	e.must(http.StatusOK, "GET", "/v1/users/alice/rooms", "alice", nil)
	if r := e.do("GET", "/v1/rooms/dev", "not/a/user", nil); r.status != http.StatusUnauthorized || r.errorCode() != "invalid_sub" {
		t.Fatalf("invalid dev user: %d %s", r.status, r.body)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
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
