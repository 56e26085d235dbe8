package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// testSecret is the HS256 secret of test servers.
var testSecret = []byte("test-secret-test-secret-test-secret-0123456789")

// env is a room API served over real HTTP on a fresh, migrated database.
type env struct {
	t      testing.TB
	q      *rcpdb.Queries
	srv    *httptest.Server
	client *http.Client
}

type envConfig struct {
	memberLimit int
	verifier    gateway.VerifierConfig // Secret defaults to testSecret
}

func newEnv(t *testing.T) *env { return newEnvWith(t, envConfig{}) }

func newEnvWith(t testing.TB, cfg envConfig) *env {
	t.Helper()
	db := queriestest.NewDB(t)
	logger := testLogger(t)
	if cfg.verifier.Secret == nil {
		cfg.verifier.Secret = testSecret
	}
	cfg.verifier.Logger = logger
	verifier, err := gateway.NewVerifier(t.Context(), cfg.verifier)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(verifier.Close)
	store := gateway.NewMySQLRoomStore(db, gateway.MySQLRoomStoreConfig{MemberLimit: cfg.memberLimit})
	mux := http.NewServeMux()
	gateway.NewRoomAPI(store, verifier, logger).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{
		t:   t,
		q:   rcpdb.New(db),
		srv: srv,
		client: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// testLogger logs to the test's output: everything for tests, warnings and
// errors only for benchmarks (an audit line per iteration is noise there).
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelDebug
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// token mints an HS256 token for sub with scopes, valid for an hour.
func (e *env) token(sub string, scopes ...string) string {
	e.t.Helper()
	tok, err := gateway.MintHS256(testSecret, sub, scopes, time.Hour)
	if err != nil {
		e.t.Fatalf("mint token: %v", err)
	}
	return tok
}

// admin is a token with the scope rooms:admin.
func (e *env) admin() string { return e.token("ops", gateway.ScopeRoomsAdmin) }

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorCode returns the "error" of a JSON error body ("" if none).
func (r response) errorCode() string {
	var b struct{ Error, Message string }
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

func (r response) errorMessage() string {
	var b struct{ Error, Message string }
	_ = json.Unmarshal(r.body, &b)
	return b.Message
}

// do sends a request; body is sent as is when it is a string, else as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	return e.doRaw(method, path, token, "application/json", body)
}

func (e *env) doRaw(method, path, token, contentType string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal request: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.send(req)
}

// send runs req and reads the whole response.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any) response {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// rows counts the rows of the rooms and room_members tables.
func (e *env) rows() (rooms, members int64) {
	e.t.Helper()
	rooms, err := e.q.CountRooms(e.t.Context())
	if err != nil {
		e.t.Fatalf("count rooms: %v", err)
	}
	members, err = e.q.CountMembers(e.t.Context())
	if err != nil {
		e.t.Fatalf("count members: %v", err)
	}
	return rooms, members
}

// roomBody is a POST /v1/rooms body.
type roomBody struct {
	ID                 string   `json:"id,omitempty"`
	Name               string   `json:"name"`
	Kind               string   `json:"kind"`
	Members            []string `json:"members"`
	TextRetentionDays  int      `json:"textRetentionDays"`
	MediaRetentionDays int      `json:"mediaRetentionDays"`
	PushPreview        *string  `json:"pushPreview,omitempty"`
}

func group(id string, members ...string) roomBody {
	if members == nil {
		members = []string{}
	}
	return roomBody{ID: id, Name: "Room " + id, Kind: "group", Members: members, TextRetentionDays: 30, MediaRetentionDays: 7}
}

// roomReply is the JSON of a room.
type roomReply struct {
	ID                 string        `json:"id"`
	Name               string        `json:"name"`
	Kind               string        `json:"kind"`
	Members            []memberReply `json:"members"`
	TextRetentionDays  int           `json:"textRetentionDays"`
	MediaRetentionDays int           `json:"mediaRetentionDays"`
	PushPreview        *string       `json:"pushPreview"`
	CreatedAt          time.Time     `json:"createdAt"`
	ClosedAt           *time.Time    `json:"closedAt"`
}

type memberReply struct {
	RoomID   string    `json:"roomId"`
	UserID   string    `json:"userId"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

func (m roomReply) memberIDs() []string {
	ids := make([]string, len(m.Members))
	for i, mm := range m.Members {
		ids[i] = mm.UserID
	}
	return ids
}

// decode unmarshals a response body strictly.
func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r.body, err)
	}
	return v
}
