package ackpending

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// PresenceConfig tunes presence.
type PresenceConfig struct {
	Prefix string // Redis key prefix, "rcp"
	// TTL is how long a session counts as live after its last refresh: a
	// crashed node's users are offline at most this long after the crash.
	TTL time.Duration
	// Refresh is how often a node rewrites its sessions' expiry (TTL/3).
	Refresh time.Duration
	Logger  *slog.Logger
}

// DefaultPresenceTTL is the default session expiry.
const DefaultPresenceTTL = 6 * time.Second

// Presence tracks this node's live STOMP sessions in Redis: per user a ZSET
// session → expiry (Unix ms), rewritten every Refresh by the node that holds
// the session and removed on disconnect. A user is online while one of its
// sessions has not expired.
type Presence struct {
	rdb  redis.UniversalClient
	cfg  PresenceConfig
	node string

	mu       sync.Mutex
	sessions map[string]string // session member → user
	// wmu orders a refresh's writes and a disconnect's ZREM, so a refresh
	// never re-adds a session removed meanwhile.
	wmu sync.Mutex
}

// NewPresence returns the presence of this node; Run keeps its sessions
// alive.
func NewPresence(rdb redis.UniversalClient, cfg PresenceConfig) *Presence {
	if cfg.Prefix == "" {
		cfg.Prefix = "rcp"
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultPresenceTTL
	}
	if cfg.Refresh <= 0 || cfg.Refresh >= cfg.TTL {
		cfg.Refresh = cfg.TTL / 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &Presence{rdb: rdb, cfg: cfg, node: hex.EncodeToString(b[:]), sessions: make(map[string]string)}
}

func (p *Presence) member(conn string) string { return p.node + "/" + conn }

func nowMs() int64 { return time.Now().UnixMilli() }

// Connected records a live session of user (conn is the node-local session
// id) and drops the user's expired sessions.
func (p *Presence) Connected(ctx context.Context, user, conn string) error {
	m := p.member(conn)
	p.mu.Lock()
	p.sessions[m] = user
	p.mu.Unlock()
	key := SessionsKey(p.cfg.Prefix, user)
	now := nowMs()
	pipe := p.rdb.Pipeline()
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now, 10))
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(now + p.cfg.TTL.Milliseconds()), Member: m})
	pipe.PExpire(ctx, key, p.cfg.TTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("presence of %s: %w", user, err)
	}
	return nil
}

// Disconnected removes a session.
func (p *Presence) Disconnected(ctx context.Context, user, conn string) error {
	m := p.member(conn)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.mu.Lock()
	delete(p.sessions, m)
	p.mu.Unlock()
	if err := p.rdb.ZRem(ctx, SessionsKey(p.cfg.Prefix, user), m).Err(); err != nil {
		return fmt.Errorf("presence of %s: %w", user, err)
	}
	return nil
}

// Sessions counts this node's live sessions.
func (p *Presence) Sessions() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sessions)
}

// Run rewrites the expiry of this node's sessions every Refresh until ctx
// ends.
func (p *Presence) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
				p.cfg.Logger.Warn("presence refresh failed; sessions may look offline", "err", err)
			}
		}
	}
}

// refresh pipelines ZADD + PEXPIRE for every local session, 500 at a time.
func (p *Presence) refresh(ctx context.Context) error {
	p.mu.Lock()
	all := make([]string, 0, len(p.sessions))
	for m := range p.sessions {
		all = append(all, m)
	}
	p.mu.Unlock()
	for len(all) > 0 {
		n := min(len(all), 500)
		if err := p.refreshChunk(ctx, all[:n]); err != nil {
			return err
		}
		all = all[n:]
	}
	return nil
}

func (p *Presence) refreshChunk(ctx context.Context, members []string) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Refresh)
	defer cancel()
	p.wmu.Lock()
	defer p.wmu.Unlock()
	exp := float64(nowMs() + p.cfg.TTL.Milliseconds())
	pipe := p.rdb.Pipeline()
	p.mu.Lock()
	for _, m := range members {
		if u, ok := p.sessions[m]; ok { // not disconnected since the snapshot
			key := SessionsKey(p.cfg.Prefix, u)
			pipe.ZAdd(ctx, key, redis.Z{Score: exp, Member: m})
			pipe.PExpire(ctx, key, p.cfg.TTL)
		}
	}
	p.mu.Unlock()
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("refresh %d sessions: %w", len(members), err)
	}
	return nil
}

// Online reports which of users have a live session on any node.
func (p *Presence) Online(ctx context.Context, users []string) (map[string]bool, error) {
	pipe := p.rdb.Pipeline()
	cmds := queueOnline(ctx, pipe, p.cfg.Prefix, users)
	if len(users) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("presence of %d users: %w", len(users), err)
		}
	}
	return onlineFrom(users, cmds), nil
}

// queueOnline queues one ZCOUNT of unexpired sessions per user.
func queueOnline(ctx context.Context, pipe redis.Pipeliner, prefix string, users []string) []*redis.IntCmd {
	now := "(" + strconv.FormatInt(nowMs(), 10)
	cmds := make([]*redis.IntCmd, len(users))
	for i, u := range users {
		cmds[i] = pipe.ZCount(ctx, SessionsKey(prefix, u), now, "+inf")
	}
	return cmds
}

func onlineFrom(users []string, cmds []*redis.IntCmd) map[string]bool {
	out := make(map[string]bool, len(users))
	for i, u := range users {
		out[u] = cmds[i].Val() > 0
	}
	return out
}
