package main_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/stomp"
)

// userAPI calls the REST API as user and decodes a 2xx JSON reply into out.
func (n *node) userAPI(user, method, path string, body, out any) int {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+n.Addr+path, rd)
	req.Header.Set("Authorization", "Bearer "+token(n.t, user))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			n.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

// syncRoom is one room of a sync reply.
type syncRoom struct {
	Room    string `json:"room"`
	Newest  string `json:"newest"`
	Seq     int64  `json:"seq"`
	Count   int64  `json:"count"`
	Pending int64  `json:"pending"`
}

type syncReply struct {
	Type      string     `json:"type"`
	RequestID string     `json:"requestId"`
	Rooms     []syncRoom `json:"rooms"`
}

// subscribeEvents subscribes the client to /user/queue/events.
func (c *rawClient) subscribeEvents() {
	c.t.Helper()
	mustReceipt(c.t, c.request(stomp.CmdSubscribe, nil, "id", "events", "destination", "/user/queue/events", "ack", "auto"))
}

// syncSTOMP sends SEND /app/sync and returns the reply event (it arrives
// before the RECEIPT).
func (c *rawClient) syncSTOMP(requestID string, cursors map[string]string) (syncReply, *stomp.Frame) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"cursors": cursors})
	mustReceipt(c.t, c.request(stomp.CmdSend, body, "destination", "/app/sync", "content-type", "application/json",
		"x-request-id", requestID))
	m := c.next()
	var r syncReply
	if err := json.Unmarshal(m.Body, &r); err != nil {
		c.t.Fatalf("sync reply %s: %v", m.Body, err)
	}
	return r, m
}

// messagesPage is a GET /v1/rooms/{id}/messages reply.
type messagesPage struct {
	Messages []struct {
		ID     string          `json:"id"`
		Seq    int64           `json:"seq"`
		Sender string          `json:"sender"`
		Type   string          `json:"type"`
		Body   json.RawMessage `json:"body"`
		TS     int64           `json:"ts"`
	} `json:"messages"`
	Next *string `json:"next"`
}

// db opens the env's MySQL database.
func (e *env) db() *sql.DB {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := queries.Open(ctx, e.DSN)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// broker returns a broker on the env's keys, for reading Redis directly.
func (e *env) broker() *broker.Broker {
	e.t.Helper()
	rdb, err := broker.Dial(e.RedisURL, e2ePartitions)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { rdb.Close() })
	cfg := broker.DefaultConfig()
	cfg.Prefix, cfg.Partitions = e.Prefix, e2ePartitions
	return broker.New(rdb, cfg)
}

// startArchiver runs `rcpd archiver` on the env and waits for /healthz.
func (e *env) startArchiver() *node {
	e.t.Helper()
	return &node{Node: e.StartArchiver(e.t, rcpdBin, syscall.SIGKILL), t: e.t}
}

// waitUntil polls cond every 50 ms until it holds or the bound passes.
func waitUntil(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// headerSubset is the MESSAGE headers the contract defines, minus the
// per-subscription ones.
func headerSubset(f *stomp.Frame) string {
	var b strings.Builder
	for _, k := range []string{"content-type", "x-room", "x-stream-id", "x-seq", "x-prev-id", "x-sender", "x-ts"} {
		v, ok := f.Header.Get(k)
		fmt.Fprintf(&b, "%s=%q(%v) ", k, v, ok)
	}
	return b.String()
}
