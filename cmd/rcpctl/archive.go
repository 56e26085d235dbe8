package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rcp/rcp/archiver"
)

// archiveReport is `rcpctl archive status`: per partition progress and lag
// as the archivers last recorded them (archiver.Status).
type archiveReport struct {
	Partitions []archiver.PartitionStatus `json:"partitions"`
	Rows       int64                      `json:"rows"`
	Trimmed    int64                      `json:"trimmed"`
	Expired    int64                      `json:"expired"`
	MaxLagMs   int64                      `json:"maxLagMs"`
}

// runArchive is `rcpctl archive status`.
func runArchive(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := flag.NewFlagSet("rcpctl archive", flag.ContinueOnError)
	c.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "status" {
		return fmt.Errorf("usage: rcpctl archive status [--json]")
	}
	b, closeRedis, err := c.open()
	if err != nil {
		return err
	}
	defer closeRedis()
	st, err := archiver.Status(ctx, b)
	if err != nil {
		return err
	}
	rep := archiveReport{Partitions: st}
	for _, p := range st {
		rep.Rows += p.Rows
		rep.Trimmed += p.Trimmed
		rep.Expired += p.Expired
		rep.MaxLagMs = max(rep.MaxLagMs, p.LagMs)
	}
	if c.json {
		return writeJSON(stdout, rep)
	}
	t := newTable(stdout, "PARTITION", "LEASE", "LAST PASS", "LAST OK", "LAG", "HELD", "ROOMS", "ROWS", "TRIMMED", "EXPIRED", "ERROR")
	for _, p := range st {
		t.row(strconv.Itoa(p.Partition), orDash(p.LeaseOwner), ago(p.PassAtMs), ago(p.OkAtMs), human(p.LagMs),
			strconv.FormatInt(p.Held, 10), strconv.FormatInt(p.Rooms, 10), strconv.FormatInt(p.Rows, 10),
			strconv.FormatInt(p.Trimmed, 10), strconv.FormatInt(p.Expired, 10), orDash(p.Error))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "total: %d rows archived, %d entries trimmed, %d expired acknowledged; max lag %s\n",
		rep.Rows, rep.Trimmed, rep.Expired, human(rep.MaxLagMs))
	return err
}

// ago prints how long ago a Unix ms time was, "never" for 0.
func ago(ms int64) string {
	if ms == 0 {
		return "never"
	}
	return human(max(time.Since(time.UnixMilli(ms)).Milliseconds(), 0)) + " ago"
}
