package archiver

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/broker"
)

// writeStatus records the pass in the partition's status hash.
func (a *Archiver) writeStatus(ctx context.Context, k keys, w window, st PassStats) {
	errText := ""
	if st.Err != nil {
		errText = st.Err.Error()
	}
	fields := []any{"owner", a.cfg.Owner, "passAt", w.now, "lagMs", st.LagMs, "held", st.Held, "error", errText,
		"hotWindowMs", a.cfg.HotWindow.Milliseconds(), "maxAgeMs", a.cfg.MaxAge.Milliseconds()}
	if st.Err == nil {
		fields = append(fields, "okAt", w.now)
	}
	pipe := a.b.Redis().Pipeline()
	pipe.HSet(ctx, k.status(), fields...)
	pipe.HIncrBy(ctx, k.status(), "rows", st.Rows)
	pipe.HIncrBy(ctx, k.status(), "trimmed", st.Trimmed)
	pipe.HIncrBy(ctx, k.status(), "expired", st.Expired)
	if _, err := pipe.Exec(ctx); err != nil {
		a.log.Warn("write archive status", "partition", k.Partition, "err", err)
	}
}

// PartitionStatus is the archive progress of one partition, for operators.
type PartitionStatus struct {
	Partition   int    `json:"partition"`
	LeaseOwner  string `json:"leaseOwner"` // "" when no pass runs now
	LastOwner   string `json:"lastOwner"`  // archiver of the last pass
	PassAtMs    int64  `json:"passAtMs"`   // Redis time of the last pass
	OkAtMs      int64  `json:"okAtMs"`     // … of the last pass without error
	LagMs       int64  `json:"lagMs"`
	Held        int64  `json:"held"`
	Rows        int64  `json:"rows"`
	Trimmed     int64  `json:"trimmed"`
	Expired     int64  `json:"expired"`
	Rooms       int64  `json:"rooms"` // rooms with an archive cursor
	HotWindowMs int64  `json:"hotWindowMs"`
	MaxAgeMs    int64  `json:"maxAgeMs"`
	Error       string `json:"error"`
}

// Status reads every partition's archive status with one pipeline.
func Status(ctx context.Context, b *broker.Broker) ([]PartitionStatus, error) {
	pipe := b.Redis().Pipeline()
	type cmds struct {
		status *redis.MapStringStringCmd
		lease  *redis.StringCmd
		rooms  *redis.IntCmd
	}
	cs := make([]cmds, b.Partitions())
	for p := range cs {
		k := partitionKeys(b, p)
		cs[p] = cmds{pipe.HGetAll(ctx, k.status()), pipe.Get(ctx, k.lease()), pipe.HLen(ctx, k.cursor())}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("archive status: %w", err)
	}
	out := make([]PartitionStatus, len(cs))
	for p, c := range cs {
		m := c.status.Val()
		n := func(f string) int64 { v, _ := strconv.ParseInt(m[f], 10, 64); return v }
		out[p] = PartitionStatus{Partition: p, LeaseOwner: c.lease.Val(), LastOwner: m["owner"],
			PassAtMs: n("passAt"), OkAtMs: n("okAt"), LagMs: n("lagMs"), Held: n("held"), Rows: n("rows"),
			Trimmed: n("trimmed"), Expired: n("expired"), Rooms: c.rooms.Val(),
			HotWindowMs: n("hotWindowMs"), MaxAgeMs: n("maxAgeMs"), Error: m["error"]}
	}
	return out, nil
}
