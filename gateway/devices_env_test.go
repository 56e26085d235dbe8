package gateway_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/wsnet"
)

// pushEnv is an rcpd in process: the STOMP edge with presence and
// /app/devices, the room and device APIs, fan-out, and an escalator
// pushing through the real FCM sender to an emulator.
type pushEnv struct {
	t       *testing.T
	b       *broker.Broker
	rdb     redis.UniversalClient
	db      *sql.DB
	emu     *fcmtest.Emulator
	devices *ackpending.Devices
	srv     *httptest.Server
	prefix  string
}

func newPushEnv(t *testing.T, grace, ackTimeout time.Duration) *pushEnv {
	t.Helper()
	b := brokertest.NewWith(t, func(c *broker.Config) { c.OfflineGrace = grace })
	rdb := b.Redis()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait(); brokertest.DeleteAll(t, b) })
	if err := b.LoadLibrary(ctx, ackpending.Library); err != nil {
		t.Fatal(err)
	}
	e := &pushEnv{t: t, b: b, rdb: rdb, db: queriestest.NewDB(t), emu: fcmtest.New(t), prefix: b.Prefix()}
	log := testLogger(t)
	verifier, err := gateway.NewVerifier(ctx, gateway.VerifierConfig{Secret: testSecret, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(verifier.Close)
	presence := ackpending.NewPresence(rdb, ackpending.PresenceConfig{Prefix: e.prefix, TTL: 2 * time.Second, Logger: log})
	e.devices = ackpending.NewDevices(e.db, rdb, ackpending.DevicesConfig{Prefix: e.prefix})
	sender, err := ackpending.NewFCMSender(ctx, ackpending.FCMConfig{
		Credentials: e.emu.ServiceAccountFile(t, t.TempDir()), Endpoint: e.emu.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ackpending.DefaultConfig()
	cfg.Prefix, cfg.Partitions, cfg.OfflineGrace, cfg.AckTimeout = e.prefix, 4, grace, ackTimeout
	cfg.Poll, cfg.Lease, cfg.Logger = 50*time.Millisecond, 5*time.Second, log
	esc := ackpending.NewEscalator(rdb, e.db, e.devices, sender, cfg)

	acker := b.NewAcker()
	router := gateway.NewRouter(acker)
	fan, err := b.NewFanout(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range []func(context.Context){acker.Run, presence.Run, esc.Run,
		func(ctx context.Context) { fan.Run(ctx, router.Dispatch) }} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}
	h := gateway.NewSTOMPHandler(verifier, b, router, gateway.DefaultSTOMPConfig(), log)
	h.SetPush(presence, e.devices)
	srv := stomp.NewServer(h, stomp.DefaultConfig())
	mux := http.NewServeMux()
	mux.Handle("GET /ws", srv)
	store := gateway.NewLedgerRoomStore(gateway.NewMySQLRoomStore(e.db, gateway.MySQLRoomStoreConfig{}), b)
	gateway.NewRoomAPI(store, verifier, log).Register(mux)
	gateway.NewDeviceAPI(e.devices, verifier, log).Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		e.srv.Close()
	})
	return e
}

func mint(t *testing.T, sub string, scopes ...string) string {
	t.Helper()
	tok, err := gateway.MintHS256(testSecret, sub, scopes, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// api calls the REST API with user's token; body is JSON.
func (e *pushEnv) api(method, path, user string, body any, scopes ...string) (int, []byte) {
	e.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+mint(e.t, user, scopes...))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	_ = json.NewDecoder(resp.Body).Decode(&raw)
	return resp.StatusCode, raw
}

// room creates a room through the room API.
func (e *pushEnv) room(id string, preview *string, members ...string) {
	e.t.Helper()
	body := map[string]any{"id": id, "name": id, "kind": "group", "members": members,
		"textRetentionDays": 30, "mediaRetentionDays": 7}
	if preview != nil {
		body["pushPreview"] = *preview
	}
	if code, raw := e.api("POST", "/v1/rooms", "ops", body, gateway.ScopeRoomsAdmin); code != 201 {
		e.t.Fatalf("create room %s: %d %s", id, code, raw)
	}
}

// device registers a token for user through the device API.
func (e *pushEnv) device(user, token string) {
	e.t.Helper()
	if code, raw := e.api("POST", "/v1/devices", user, map[string]string{"token": token, "platform": "android"}); code != 201 {
		e.t.Fatalf("register %s for %s: %d %s", token, user, code, raw)
	}
}

// connect opens a go-stomp session over WebSocket as user.
func (e *pushEnv) connect(user string) *gostomp.Conn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := wsnet.Dial(ctx, "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/ws", "v12.stomp")
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := gostomp.ConnectWithContext(ctx, nc, gostomp.ConnOpt.Header("Authorization", "Bearer "+mint(e.t, user)),
		gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.RcvReceiptTimeout(5*time.Second),
		gostomp.ConnOpt.MsgSendTimeout(5*time.Second), gostomp.ConnOpt.DisconnectReceiptTimeout(5*time.Second))
	if err != nil {
		e.t.Fatalf("connect %s: %v", user, err)
	}
	e.t.Cleanup(func() { c.Disconnect() })
	return c
}

// send SENDs a text to room with a receipt and returns when the RECEIPT
// arrived.
func sendText(t *testing.T, c *gostomp.Conn, room, text string) time.Time {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	if err := c.Send("/app/rooms/"+room, "application/json", body, gostomp.SendOpt.Receipt); err != nil {
		t.Fatalf("send to %s: %v", room, err)
	}
	return time.Now()
}

func (e *pushEnv) deliveries(room, user string) []int64 {
	e.t.Helper()
	ps, err := e.b.Pending(context.Background(), room, user, "", 10_000)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []int64
	for _, p := range ps {
		out = append(out, p.Deliveries)
	}
	return out
}
