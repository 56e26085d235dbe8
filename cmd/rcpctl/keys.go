package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// keyInfo is one key of a room as redis-cli would describe it.
type keyInfo struct {
	Role   string      `json:"role"`
	Key    string      `json:"key"`
	Type   string      `json:"type"`             // TYPE, "pattern" for a key family
	Length int64       `json:"length"`           // XLEN, SCARD, HLEN, ZCARD, STRLEN
	Field  string      `json:"field,omitempty"`  // the room's field (heads) or member (due)
	Value  string      `json:"value,omitempty"`  // its value or score
	TTLms  int64       `json:"ttlMs,omitempty"`  // PTTL when the key expires
	Groups []groupInfo `json:"groups,omitempty"` // XINFO GROUPS of the room's stream
}

type groupInfo struct {
	Name      string `json:"name"`
	Consumers int64  `json:"consumers"`
	Pending   int64  `json:"pending"`
	Oldest    string `json:"oldestPending,omitempty"` // XPENDING summary: the ledger is the PEL
	Newest    string `json:"newestPending,omitempty"`
}

type keysReport struct {
	Room      string    `json:"room"`
	Partition int       `json:"partition"`
	Keys      []keyInfo `json:"keys"`
}

func runKeys(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := flag.NewFlagSet("rcpctl keys", flag.ContinueOnError)
	c.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "room" {
		return fmt.Errorf("usage: rcpctl keys room R")
	}
	room := pos[1]
	if !broker.ValidID(room) {
		return fmt.Errorf("keys: room %q: %w", room, broker.ErrBadID)
	}
	b, closeRedis, err := c.open()
	if err != nil {
		return err
	}
	defer closeRedis()
	rep := keysReport{Room: room, Partition: b.KeysFor(room).Partition}
	for _, role := range roleOrder(b.RoomKeys(room)) {
		ki, err := describe(ctx, b.Redis(), role, b.RoomKeys(room)[role])
		if err != nil {
			return err
		}
		rep.Keys = append(rep.Keys, ki)
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	return printKeys(stdout, rep)
}

// roleOrder lists RoomKeys' roles in DESIGN.md's order, then any other.
func roleOrder(keys map[string]string) []string {
	known := []string{"stream", "members", "feed", "heads", "due", "dedup"}
	var out, rest []string
	for _, r := range known {
		if _, ok := keys[r]; ok {
			out = append(out, r)
		}
	}
	for r := range keys {
		if !slices.Contains(known, r) {
			rest = append(rest, r)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// annotation parses RoomKeys' "key (field 42)" and "key (member 42)".
var annotation = regexp.MustCompile(`^(\S+) \((field|member) (\S+)\)$`)

// describe asks Redis what a RoomKeys entry holds. A name with <…> in it
// is a family of keys (dedup: one per client id) and is shown as a pattern.
func describe(ctx context.Context, rdb redis.UniversalClient, role, spec string) (keyInfo, error) {
	ki := keyInfo{Role: role, Key: spec}
	if m := annotation.FindStringSubmatch(spec); m != nil {
		ki.Key, ki.Field = m[1], m[3]
	}
	if strings.Contains(ki.Key, "<") {
		ki.Type = "pattern"
		return ki, nil
	}
	typ, err := rdb.Type(ctx, ki.Key).Result()
	if err != nil {
		return ki, fmt.Errorf("type %s: %w", ki.Key, err)
	}
	ki.Type = typ
	if err := fill(ctx, rdb, &ki); err != nil {
		return ki, fmt.Errorf("%s %s: %w", typ, ki.Key, err)
	}
	if ttl, err := rdb.PTTL(ctx, ki.Key).Result(); err == nil && ttl > 0 {
		ki.TTLms = ttl.Milliseconds()
	}
	return ki, nil
}

// fill adds the length (and the room's field, and a stream's groups).
func fill(ctx context.Context, rdb redis.UniversalClient, ki *keyInfo) error {
	var err error
	switch ki.Type {
	case "stream":
		if ki.Length, err = rdb.XLen(ctx, ki.Key).Result(); err != nil {
			return err
		}
		if ki.Role == "stream" {
			ki.Groups, err = groups(ctx, rdb, ki.Key)
		}
	case "set":
		ki.Length, err = rdb.SCard(ctx, ki.Key).Result()
	case "hash":
		if ki.Length, err = rdb.HLen(ctx, ki.Key).Result(); err == nil && ki.Field != "" {
			ki.Value, err = ignoreNil(rdb.HGet(ctx, ki.Key, ki.Field).Result())
		}
	case "zset":
		if ki.Length, err = rdb.ZCard(ctx, ki.Key).Result(); err == nil && ki.Field != "" {
			ki.Value, err = zscore(ctx, rdb, ki.Key, ki.Field)
		}
	case "string":
		ki.Length, err = rdb.StrLen(ctx, ki.Key).Result()
	}
	return err
}

func ignoreNil(s string, err error) (string, error) {
	if err == redis.Nil {
		return "", nil
	}
	return s, err
}

// zscore prints a due time (Unix ms) with its UTC time.
func zscore(ctx context.Context, rdb redis.UniversalClient, key, member string) (string, error) {
	s, err := rdb.ZScore(ctx, key, member).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	at := time.UnixMilli(int64(s)).UTC().Format(time.RFC3339)
	return strconv.FormatInt(int64(s), 10) + " (" + at + ")", nil
}

func groups(ctx context.Context, rdb redis.UniversalClient, key string) ([]groupInfo, error) {
	gs, err := rdb.XInfoGroups(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("xinfo groups: %w", err)
	}
	out := make([]groupInfo, len(gs))
	for i, g := range gs {
		out[i] = groupInfo{Name: g.Name, Consumers: g.Consumers, Pending: g.Pending}
		if g.Pending == 0 {
			continue
		}
		sum, err := rdb.XPending(ctx, key, g.Name).Result()
		if err != nil {
			return nil, fmt.Errorf("xpending %s: %w", g.Name, err)
		}
		out[i].Oldest, out[i].Newest = sum.Lower, sum.Higher
	}
	return out, nil
}
