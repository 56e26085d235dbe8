package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries/queriestest"
)

// syncEnv serves the room and sync APIs on a real broker and database.
type syncEnv struct {
	t       *testing.T
	b       *broker.Broker
	store   gateway.RoomStore
	history *gateway.History
	syncer  *gateway.Syncer
	arch    *archiver.Archiver
	srv     *httptest.Server
	calls   *redisCalls
}

func newSyncEnv(t *testing.T) *syncEnv {
	t.Helper()
	ctx := context.Background()
	db := queriestest.NewDB(t)
	b := brokertest.New(t)
	if err := archiver.LoadFunctions(ctx, b); err != nil {
		t.Fatal(err)
	}
	calls := &redisCalls{}
	b.Redis().AddHook(calls)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	v, err := gateway.NewVerifier(ctx, gateway.VerifierConfig{Secret: testSecret, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	e := &syncEnv{t: t, b: b, calls: calls,
		store:   gateway.NewLedgerRoomStore(gateway.NewMySQLRoomStore(db, gateway.MySQLRoomStoreConfig{}), b),
		history: gateway.NewHistory(b, db), syncer: gateway.NewSyncer(b, db),
		// A hot window of 1 ms: every pass archives everything sent before it.
		arch: archiver.New(b, db, archiver.Config{HotWindow: time.Millisecond, Logger: log}),
	}
	mux := http.NewServeMux()
	gateway.NewSyncAPI(e.syncer, e.history, v, log).Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *syncEnv) room(id string, members ...string) {
	e.t.Helper()
	if _, _, err := e.store.Create(context.Background(), gateway.RoomSpec{ID: id, Name: id, Kind: gateway.KindGroup, Members: members}); err != nil {
		e.t.Fatal(err)
	}
}

// send sends n messages from sender and returns their ids.
func (e *syncEnv) send(room, sender string, n int) []string {
	e.t.Helper()
	ids := make([]string, n)
	for i := range ids {
		res, err := e.b.Send(context.Background(), broker.SendRequest{Room: room, Sender: sender, Type: "text",
			Body: []byte(fmt.Sprintf(`{"type":"text","text":"%s %d"}`, room, i))})
		if err != nil {
			e.t.Fatal(err)
		}
		ids[i] = res.ID
	}
	time.Sleep(2 * time.Millisecond) // older than the 1 ms hot window
	return ids
}

// archive runs one archive pass and returns it.
func (e *syncEnv) archive() archiver.PassStats {
	e.t.Helper()
	st := e.arch.RunOnce(context.Background())
	if st.Err != nil {
		e.t.Fatal(st.Err)
	}
	return st
}

// call sends a request as user and decodes the JSON reply into out.
func (e *syncEnv) call(method, path, user string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	tok, err := gateway.MintHS256(testSecret, user, nil, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// redisCalls counts what the client sends to Redis: one per command sent
// alone, one per pipeline (on a single Redis: one round trip each).
type redisCalls struct{ n atomic.Int64 }

func (c *redisCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *redisCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !handshake(cmd) {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *redisCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !handshake(cmds[0]) {
			c.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// handshake tells a new connection's HELLO and CLIENT SETINFO apart.
func handshake(cmd redis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

type syncResp struct {
	Rooms []gateway.SyncRoom `json:"rooms"`
}

type pageResp struct {
	Messages []struct {
		ID     string          `json:"id"`
		Seq    int64           `json:"seq"`
		Sender string          `json:"sender"`
		Type   string          `json:"type"`
		Body   json.RawMessage `json:"body"`
		TS     int64           `json:"ts"`
	} `json:"messages"`
	Next *string `json:"next"`
	Prev *string `json:"prev"`
}

func (p pageResp) ids() []string {
	out := make([]string, len(p.Messages))
	for i, m := range p.Messages {
		out[i] = m.ID
	}
	return out
}
