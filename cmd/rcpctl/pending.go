package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/rcp/rcp/broker"
)

// pendingRoom is what is pending for the user in one room.
type pendingRoom struct {
	Room    string         `json:"room"`
	Pending int64          `json:"pending"` // all entries, also those not listed
	Member  bool           `json:"member"`  // the user has a consumer group here
	Entries []pendingEntry `json:"entries"`
}

type pendingEntry struct {
	ID         string `json:"id"`
	IdleMs     int64  `json:"idleMs"`
	Idle       string `json:"idle"`
	Deliveries int64  `json:"deliveries"`
}

type pendingReport struct {
	User  string        `json:"user"`
	Total int64         `json:"total"`
	Rooms []pendingRoom `json:"rooms"`
}

func runPending(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := flag.NewFlagSet("rcpctl pending", flag.ContinueOnError)
	c.register(fs)
	user := fs.String("user", "", "user id (required)")
	room := fs.String("room", "", "one room; without it, the user's rooms (--rooms or MySQL)")
	list := fs.String("rooms", "", "comma-separated rooms to look at instead of MySQL")
	count := fs.Int64("count", 100, "entries listed per room (the total is always counted)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if !broker.ValidID(*user) {
		return fmt.Errorf("pending: --user %q: %w", *user, broker.ErrBadID)
	}
	b, closeRedis, err := c.open()
	if err != nil {
		return err
	}
	defer closeRedis()
	rooms := []string{*room}
	if *room == "" {
		if rooms, err = userRooms(ctx, &c, *user, *list); err != nil {
			return err
		}
	}
	rep := pendingReport{User: *user, Rooms: []pendingRoom{}}
	for _, r := range rooms {
		pr, err := pendingIn(ctx, b, r, *user, *count)
		if err != nil {
			return err
		}
		if *room != "" && !pr.Member {
			return fmt.Errorf("pending: %s has no consumer group %s in room %s (not a member?)", *user, broker.Group(*user), r)
		}
		rep.Total += pr.Pending
		rep.Rooms = append(rep.Rooms, pr)
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	return printPending(stdout, rep)
}

// pendingIn reads XPENDING's summary (the total) and up to count entries.
func pendingIn(ctx context.Context, b *broker.Broker, room, user string, count int64) (pendingRoom, error) {
	pr := pendingRoom{Room: room, Entries: []pendingEntry{}}
	sum, err := b.Redis().XPending(ctx, b.KeysFor(room).Room(room), broker.Group(user)).Result()
	if isNoGroup(err) {
		return pr, nil
	}
	if err != nil {
		return pr, fmt.Errorf("xpending %s for %s: %w", room, user, err)
	}
	pr.Member, pr.Pending = true, sum.Count
	if sum.Count == 0 || count <= 0 {
		return pr, nil
	}
	ps, err := b.Pending(ctx, room, user, "", count)
	if err != nil {
		return pr, err
	}
	for _, p := range ps {
		pr.Entries = append(pr.Entries, pendingEntry{ID: p.ID, IdleMs: p.Idle, Idle: human(p.Idle), Deliveries: p.Deliveries})
	}
	return pr, nil
}

func printPending(w io.Writer, rep pendingReport) error {
	t := newTable(w, "ROOM", "STREAM ID", "IDLE", "DELIVERIES")
	for _, r := range rep.Rooms {
		if !r.Member {
			t.row(r.Room, "(no consumer group)", "", "")
		}
		for _, e := range r.Entries {
			t.row(r.Room, e.ID, e.Idle, itoa(e.Deliveries))
		}
		if more := r.Pending - int64(len(r.Entries)); more > 0 {
			t.row(r.Room, fmt.Sprintf("… %d more", more), "", "")
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d pending for %s in %d room(s)\n", rep.Total, rep.User, len(rep.Rooms))
	return err
}
