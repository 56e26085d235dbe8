package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// roomRow is one of the user's rooms: its head and the user's ledger.
type roomRow struct {
	Room    string `json:"room"`
	Newest  string `json:"newest"` // newest stream id, "" for an empty room
	Seq     int64  `json:"seq"`
	Pending int64  `json:"pending"`
	Member  bool   `json:"member"` // the user has a consumer group here
}

type roomsReport struct {
	User  string    `json:"user"`
	Rooms []roomRow `json:"rooms"`
}

func runRooms(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := flag.NewFlagSet("rcpctl rooms", flag.ContinueOnError)
	c.register(fs)
	user := fs.String("user", "", "user id (required)")
	list := fs.String("rooms", "", "comma-separated rooms to look at instead of MySQL")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if !broker.ValidID(*user) {
		return fmt.Errorf("rooms: --user %q: %w", *user, broker.ErrBadID)
	}
	b, closeRedis, err := c.open()
	if err != nil {
		return err
	}
	defer closeRedis()
	rooms, err := userRooms(ctx, &c, *user, *list)
	if err != nil {
		return err
	}
	rows, err := roomRows(ctx, b, *user, rooms)
	if err != nil {
		return err
	}
	rep := roomsReport{User: *user, Rooms: rows}
	if c.json {
		return writeJSON(stdout, rep)
	}
	t := newTable(stdout, "ROOM", "NEWEST ID", "SEQ", "PENDING")
	for _, r := range rows {
		pending := itoa(r.Pending)
		if !r.Member {
			pending = "(no consumer group)"
		}
		t.row(r.Room, orDash(r.Newest), itoa(r.Seq), pending)
	}
	return t.flush()
}

// roomRows reads every room's head (HGET heads) and the user's pending
// count (XPENDING summary) in one pipeline.
func roomRows(ctx context.Context, b *broker.Broker, user string, rooms []string) ([]roomRow, error) {
	pipe := b.Redis().Pipeline()
	heads := make([]*redis.StringCmd, len(rooms))
	pend := make([]*redis.XPendingCmd, len(rooms))
	for i, r := range rooms {
		k := b.KeysFor(r)
		heads[i] = pipe.HGet(ctx, k.Heads(), r)
		pend[i] = pipe.XPending(ctx, k.Room(r), broker.Group(user))
	}
	pipe.Exec(ctx) // errors are read per command below
	rows := make([]roomRow, len(rooms))
	for i, r := range rooms {
		row, err := roomRowOf(r, heads[i], pend[i])
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	return rows, nil
}

func roomRowOf(room string, head *redis.StringCmd, pend *redis.XPendingCmd) (roomRow, error) {
	row := roomRow{Room: room}
	v, err := head.Result()
	switch {
	case err == redis.Nil:
	case err != nil:
		return row, fmt.Errorf("head of %s: %w", room, err)
	default:
		id, seq, ok := strings.Cut(v, " ")
		n, perr := strconv.ParseInt(seq, 10, 64)
		if !ok || perr != nil {
			return row, fmt.Errorf("head of %s: unexpected value %q", room, v)
		}
		row.Newest, row.Seq = id, n
	}
	sum, err := pend.Result()
	switch {
	case isNoGroup(err):
	case err != nil:
		return row, fmt.Errorf("xpending %s: %w", room, err)
	default:
		row.Member, row.Pending = true, sum.Count
	}
	return row, nil
}
