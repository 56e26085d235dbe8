package ackpending

import (
	_ "embed"

	"github.com/rcp/rcp/broker"
)

//go:embed rcpesc.lua
var librarySource string

// Library is the rcpesc Redis Function library: rcpd loads it with
// broker.LoadLibrary next to the broker's own.
var Library = broker.MustParseLibrary(librarySource)

// userTag is the hash tag of one user's keys: a user's sessions and devices
// share a slot, apart from every room's.
func userTag(prefix, user string) string { return prefix + ":{u:" + user + "}" }

// SessionsKey is the ZSET session → expiry (Unix ms) of a user's live
// sessions.
func SessionsKey(prefix, user string) string { return userTag(prefix, user) + ":sessions" }

// DevicesKey is the HASH token → platform caching a user's devices.
func DevicesKey(prefix, user string) string { return userTag(prefix, user) + ":devices" }

// PushedKey is the HASH user → newest stream id of room already escalated
// for that user: the start of the next XPENDING scan. It lives in the
// room's partition, next to the stream.
func PushedKey(k broker.Keys, room string) string {
	return k.Tag() + ":pushed:" + room
}
