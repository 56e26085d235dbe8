// Package broker owns RCP's use of Redis Streams: the key layout, the Redis
// Functions (embedded .lua), rooms and their per-member consumer groups (the
// ACK ledger), send, partition feeds for node fan-out, ACK and backlog
// reads. It knows nothing of STOMP.
package broker

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
)

// idPattern is the charset of room and user ids: they appear inside Redis
// keys and consumer group names, so they must not hold spaces or braces.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidID reports whether s may be used as a room or user id.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// Keys names the Redis keys of one partition. Every key carries the
// partition's hash tag, so one Function may touch them all in a Cluster.
type Keys struct {
	Prefix    string
	Partition int
}

// Tag is the partition's key prefix with its hash tag, "rcp:{p7}": other
// packages name their partition keys after it to share the slot.
func (k Keys) Tag() string { return k.Prefix + ":{p" + strconv.Itoa(k.Partition) + "}" }

// Room is the room's stream.
func (k Keys) Room(room string) string { return k.Tag() + ":room:" + room }

// Members is the SET of the room's member ids.
func (k Keys) Members(room string) string { return k.Tag() + ":members:" + room }

// Feed is the partition's feed stream that nodes read to fan out.
func (k Keys) Feed() string { return k.Tag() + ":feed" }

// Heads is the HASH room → "newest-id seq".
func (k Keys) Heads() string { return k.Tag() + ":heads" }

// Due is the ZSET room → when the escalator must look at it.
func (k Keys) Due() string { return k.Tag() + ":due" }

// Dedup is the idempotency key of a client id in a room.
func (k Keys) Dedup(room, clientID string) string {
	return k.Tag() + ":dedup:" + room + ":" + clientID
}

// Group is the consumer group (and consumer) name of a member.
func Group(user string) string { return "u:" + user }

// Partition maps a room to its partition: FNV-1a of the id modulo n.
func Partition(room string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(room))
	return int(h.Sum32() % uint32(n))
}

// KeysFor returns the keys of the partition that holds room.
func (b *Broker) KeysFor(room string) Keys {
	return Keys{Prefix: b.cfg.Prefix, Partition: Partition(room, b.cfg.Partitions)}
}

// RoomKeys lists every key of one room, for operators (rcpctl keys room).
func (b *Broker) RoomKeys(room string) map[string]string {
	k := b.KeysFor(room)
	return map[string]string{
		"stream":  k.Room(room),
		"members": k.Members(room),
		"feed":    k.Feed(),
		"heads":   fmt.Sprintf("%s (field %s)", k.Heads(), room),
		"due":     fmt.Sprintf("%s (member %s)", k.Due(), room),
		"dedup":   k.Dedup(room, "<client-id>"),
	}
}
