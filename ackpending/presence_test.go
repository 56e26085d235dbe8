package ackpending_test

import (
	"context"
	"testing"
	"time"

	"github.com/rcp/rcp/ackpending"
)

func online(t *testing.T, p *ackpending.Presence, users ...string) map[string]bool {
	t.Helper()
	m, err := p.Online(t.Context(), users)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPresenceFollowsSessions(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	ttl := 600 * time.Millisecond
	node1 := ackpending.NewPresence(e.rdb, ackpending.PresenceConfig{Prefix: e.prefix, TTL: ttl, Refresh: 150 * time.Millisecond})
	node2 := ackpending.NewPresence(e.rdb, ackpending.PresenceConfig{Prefix: e.prefix, TTL: ttl, Refresh: 150 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go node1.Run(ctx)
	crashed, crash := context.WithCancel(context.Background())
	go node2.Run(crashed)

	// Same connection id on two nodes: two sessions.
	if err := node1.Connected(t.Context(), "alice", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := node2.Connected(t.Context(), "alice", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := node2.Connected(t.Context(), "bob", "c2"); err != nil {
		t.Fatal(err)
	}
	if n := e.rdb.ZCard(t.Context(), ackpending.SessionsKey(e.prefix, "alice")).Val(); n != 2 {
		t.Fatalf("alice has %d sessions, want 2", n)
	}
	if m := online(t, node1, "alice", "bob", "carol"); !m["alice"] || !m["bob"] || m["carol"] {
		t.Fatalf("online %v", m)
	}
	// Refreshed sessions outlive the TTL.
	time.Sleep(2 * ttl)
	if m := online(t, node1, "alice", "bob"); !m["alice"] || !m["bob"] {
		t.Fatalf("refreshed sessions expired: %v", m)
	}
	// Node 2 crashes (stops refreshing): bob is offline within the TTL;
	// alice stays online through node 1.
	crash()
	time.Sleep(ttl + 200*time.Millisecond)
	if m := online(t, node1, "alice", "bob"); !m["alice"] || m["bob"] {
		t.Fatalf("after node 2 crashed: %v, want alice only", m)
	}
	if err := node1.Disconnected(t.Context(), "alice", "c1"); err != nil {
		t.Fatal(err)
	}
	if m := online(t, node1, "alice"); m["alice"] {
		t.Fatal("alice online after her last session closed")
	}
	if node1.Sessions() != 0 {
		t.Fatalf("node 1 still holds %d sessions", node1.Sessions())
	}
	// The key itself expires: nothing is left behind by crashed nodes.
	time.Sleep(ttl)
	if n := e.rdb.Exists(t.Context(), ackpending.SessionsKey(e.prefix, "bob")).Val(); n != 0 {
		t.Fatal("bob's sessions key outlived its TTL")
	}
}
