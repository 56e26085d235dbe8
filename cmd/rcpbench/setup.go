package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/rcp/rcp/gateway"
)

// createRooms creates every room with its members through POST /v1/rooms,
// as an app backend would, with an admin token minted from the secret.
func createRooms(ctx context.Context, c *config) error {
	tok, err := gateway.MintHS256([]byte(c.Secret), "rcpbench", []string{gateway.ScopeRoomsAdmin}, time.Hour)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.CreateAPI}}
	return forEach(ctx, c.Rooms, c.CreateAPI, func(ctx context.Context, r int) error {
		return createRoom(ctx, hc, c, tok, r)
	})
}

func createRoom(ctx context.Context, hc *http.Client, c *config, tok string, r int) error {
	members := make([]string, c.Members)
	for m := range members {
		members[m] = c.userID(r, m)
	}
	body, _ := json.Marshal(map[string]any{"id": c.roomID(r), "name": c.roomID(r), "kind": "group",
		"members": members, "textRetentionDays": 0, "mediaRetentionDays": 0})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.API+"/v1/rooms", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("create room %s: %w", c.roomID(r), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("create room %s: %s: %s", c.roomID(r), resp.Status, msg)
	}
	return nil
}

// connectAll opens one connection per member slot, subscribes it to its
// room and starts its reader. It returns the clients in slot order.
func connectAll(ctx context.Context, c *config, t *tracker) ([]*client, error) {
	clients := make([]*client, c.Conns)
	err := forEach(ctx, c.Conns, c.DialConcurrency, func(ctx context.Context, i int) error {
		cl, err := connectOne(ctx, c, i)
		clients[i] = cl
		return err
	})
	for _, cl := range clients {
		if cl == nil {
			continue
		}
		if err != nil {
			cl.ws.Close()
			continue
		}
		t.expected[cl.room]++
		go cl.readLoop(t, c.Ack)
	}
	return clients, err
}

func connectOne(ctx context.Context, c *config, i int) (*client, error) {
	room, member := c.slot(i)
	user := c.userID(room, member)
	tok, err := gateway.MintHS256([]byte(c.Secret), user, nil, 24*time.Hour)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := dial(ctx, c.URL, user, tok, i, room, c.Window, c.Heartbeat)
	if err != nil {
		return nil, err
	}
	go cl.beatEvery(c.Heartbeat)
	if err := cl.subscribe(ctx, c.topic(room), c.Ack); err != nil {
		cl.ws.Close()
		return nil, fmt.Errorf("subscribe %s to %s: %w", user, c.roomID(room), err)
	}
	return cl, nil
}
