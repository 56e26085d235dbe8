// Package fcmtest is an FCM HTTP v1 emulator for tests: an httptest server
// speaking POST /v1/projects/<id>/messages:send and the OAuth 2.0 token
// endpoint of a service account it generates (ServiceAccountFile writes a
// JSON key whose token_uri points at the emulator, so the real firebase SDK
// runs its real credential flow offline). It records every request and
// answers as scripted: by default 200 with a message name.
package fcmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Project is the project id of the emulated FCM.
const Project = "rcp-test"

// Message is the part of an FCM v1 message the tests look at.
type Message struct {
	Token        string            `json:"token"`
	Data         map[string]string `json:"data"`
	Notification struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Android struct {
		CollapseKey string `json:"collapse_key"`
		Priority    string `json:"priority"`
		TTL         string `json:"ttl"`
	} `json:"android"`
}

// Request is one recorded messages:send call and the status it got.
type Request struct {
	At      time.Time
	Project string
	Message Message
	Raw     []byte
	Status  int
}

// Reply is a scripted answer.
type Reply struct {
	Status     int           // HTTP status; 0 = 200
	Code       string        // FcmError errorCode detail, e.g. UNREGISTERED
	RetryAfter string        // Retry-After header
	Delay      time.Duration // wait before answering
	Hold       chan struct{} // answer only once this is closed (or the client leaves)
}

// Emulator is a running FCM emulator.
type Emulator struct {
	*httptest.Server
	key *rsa.PrivateKey

	mu       sync.Mutex
	requests []Request
	script   []Reply
	byToken  map[string]Reply
	def      Reply
	tokens   map[string]bool // access tokens issued
	grants   int
	changed  chan struct{}
}

// New starts an emulator, closed when the test ends.
func New(t testing.TB) *Emulator {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := &Emulator{key: key, byToken: make(map[string]Reply), tokens: make(map[string]bool),
		changed: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", e.token)
	mux.HandleFunc("POST /v1/projects/{rest...}", e.send)
	e.Server = httptest.NewServer(mux)
	t.Cleanup(e.Close)
	return e
}

// Endpoint is the base URL to give RCP_FCM_ENDPOINT (without /v1).
func (e *Emulator) Endpoint() string { return e.URL }

// ServiceAccountFile writes a service-account key whose token_uri is the
// emulator's into dir and returns its path.
func (e *Emulator) ServiceAccountFile(t testing.TB, dir string) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(e.key)
	if err != nil {
		t.Fatal(err)
	}
	sa := map[string]string{
		"type":           "service_account",
		"project_id":     Project,
		"private_key_id": "emulator-key",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "rcp@" + Project + ".iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      e.URL + "/token",
	}
	b, _ := json.Marshal(sa)
	p := filepath.Join(dir, "fcm-service-account.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// token is the OAuth token endpoint: it verifies the JWT assertion signed
// with the service account's key.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	_, err := jwt.Parse(r.Form.Get("assertion"), func(*jwt.Token) (any, error) { return &e.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}))
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":%q}`, err.Error())
		return
	}
	e.mu.Lock()
	e.grants++
	tok := "emu-" + strconv.Itoa(e.grants)
	e.tokens[tok] = true
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
}

// Grants counts the access tokens issued.
func (e *Emulator) Grants() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.grants
}

// Script makes the next len(replies) send requests get these answers, in
// order (after per-token answers, which take precedence).
func (e *Emulator) Script(replies ...Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.script = append(e.script, replies...)
}

// ReplyTo makes every request for token get r.
func (e *Emulator) ReplyTo(token string, r Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byToken[token] = r
}

// SetDefault makes r the answer of requests neither ReplyTo nor Script
// covers (initially 200).
func (e *Emulator) SetDefault(r Reply) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.def = r
}

// Error is the reply FCM gives for an FcmError code (or a google status
// without FcmError detail, for UNAUTHENTICATED and PERMISSION_DENIED).
func Error(code string) Reply {
	status := map[string]int{
		"UNREGISTERED": 404, "INVALID_ARGUMENT": 400, "UNAVAILABLE": 503, "INTERNAL": 500,
		"QUOTA_EXCEEDED": 429, "SENDER_ID_MISMATCH": 403, "THIRD_PARTY_AUTH_ERROR": 401,
		"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403,
	}[code]
	if status == 0 {
		status = 400
	}
	return Reply{Status: status, Code: code}
}

func (e *Emulator) next(token string) Reply {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r, ok := e.byToken[token]; ok {
		return r
	}
	if len(e.script) > 0 {
		r := e.script[0]
		e.script = e.script[1:]
		return r
	}
	return e.def
}
