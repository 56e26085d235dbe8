package main

import (
	"fmt"
	"io"
	"strconv"
)

func printKeys(w io.Writer, rep keysReport) error {
	fmt.Fprintf(w, "room %s (partition %d)\n", rep.Room, rep.Partition)
	t := newTable(w, "ROLE", "KEY", "TYPE", "LENGTH", "DETAIL")
	var gs []groupInfo
	for _, k := range rep.Keys {
		t.row(k.Role, k.Key, k.Type, length(k), detail(k))
		if k.Role == "stream" {
			gs = k.Groups
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(gs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	t = newTable(w, "GROUP", "CONSUMERS", "PENDING", "OLDEST PENDING", "NEWEST PENDING")
	for _, g := range gs {
		t.row(g.Name, itoa(g.Consumers), itoa(g.Pending), orDash(g.Oldest), orDash(g.Newest))
	}
	return t.flush()
}

func length(k keyInfo) string {
	if k.Type == "none" || k.Type == "pattern" {
		return "-"
	}
	return itoa(k.Length)
}

func detail(k keyInfo) string {
	var d string
	switch {
	case k.Type == "none":
		d = "(no such key)"
	case k.Type == "pattern":
		d = "one key per x-client-id"
	case k.Field != "":
		d = k.Field + " = " + orDash(k.Value)
	case k.Role == "stream":
		d = fmt.Sprintf("%d group(s)", len(k.Groups))
	}
	if k.TTLms > 0 {
		d += " ttl " + human(k.TTLms)
	}
	return d
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
