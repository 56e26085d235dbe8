// Package archiver drains room streams into MySQL and retires old data. It
// owns:
//
//   - the archive pass: per partition, under a lease, stream entries older
//     than the hot window are inserted into MySQL (multi-row INSERT IGNORE
//     through sqlc, idempotent on (room, stream id)), then the stream is
//     trimmed with XTRIM MINID, never past what MySQL holds nor past an entry
//     a member still has pending (or has not been delivered yet);
//   - the ledger's max age: a pending entry older than it that blocks the
//     trim is escalated once more (Escalator) and acknowledged on the
//     member's behalf; the client syncs it from MySQL;
//   - the retention jobs: per-room text and media days, O2O rooms expiring
//     after close, in bounded batches (BlobRetention is the blob store's hook);
//   - the rcparch Redis Function library (archive.lua) and the archiver's
//     Redis keys, per partition: `…:{pN}:arch:lease` (lease owner),
//     `…:{pN}:arch:cursor` (HASH room → newest id in MySQL),
//     `…:{pN}:arch:status` (HASH: progress and lag, for `rcpctl archive
//     status`), and `…:{p0}:arch:retention` (the retention jobs' lease);
//   - its Prometheus metrics.
//
// docs/sync.md describes the design and its measured figures.
package archiver

import (
	"strings"

	"github.com/rcp/rcp/broker"
)

// keys names the archiver's keys of one partition, next to the broker's.
type keys struct{ broker.Keys }

// tag is the partition's key prefix with its hash tag, "rcp:{p7}".
func (k keys) tag() string { return strings.TrimSuffix(k.Heads(), ":heads") }

// lease holds the id of the archiver working on the partition.
func (k keys) lease() string { return k.tag() + ":arch:lease" }

// cursor is the HASH room → id of the newest entry known to be in MySQL.
func (k keys) cursor() string { return k.tag() + ":arch:cursor" }

// status is the HASH of the partition's archive progress.
func (k keys) status() string { return k.tag() + ":arch:status" }

// retention is the lease of the retention jobs (on partition 0).
func (k keys) retention() string { return k.tag() + ":arch:retention" }

func partitionKeys(b *broker.Broker, p int) keys {
	return keys{broker.Keys{Prefix: b.KeysFor("x").Prefix, Partition: p}}
}
