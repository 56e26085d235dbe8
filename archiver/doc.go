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
	"github.com/rcp/rcp/broker"
)

// keys names the archiver's keys of one partition, next to the broker's.
type keys struct{ broker.Keys }

// lease holds the id of the archiver working on the partition.
func (k keys) lease() string { return k.Tag() + ":arch:lease" }

// cursor is the HASH room → id of the newest entry known to be in MySQL.
func (k keys) cursor() string { return k.Tag() + ":arch:cursor" }

// status is the HASH of the partition's archive progress.
func (k keys) status() string { return k.Tag() + ":arch:status" }

// retention is the lease of the retention jobs (on partition 0).
func (k keys) retention() string { return k.Tag() + ":arch:retention" }

func partitionKeys(b *broker.Broker, p int) keys {
	return keys{broker.Keys{Prefix: b.Prefix(), Partition: p}}
}
