package archiver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// ErrLeaseLost stops a partition pass whose lease another archiver took
// (this one stalled longer than the lease TTL).
var ErrLeaseLost = errors.New("archive lease lost")

// Archiver moves stream entries older than the hot window into MySQL and
// trims the streams. Several nodes may run one each: they share the
// partitions through leases.
type Archiver struct {
	b   *broker.Broker
	db  *sql.DB
	cfg Config
	log *slog.Logger
}

// New returns an archiver on b and db (opened with queries.Open, migrated).
// Call LoadFunctions before the first pass.
func New(b *broker.Broker, db *sql.DB, cfg Config) *Archiver {
	cfg = cfg.withDefaults()
	return &Archiver{b: b, db: db, cfg: cfg, log: cfg.Logger}
}

// Config is the configuration in use, defaults filled in.
func (a *Archiver) Config() Config { return a.cfg }

// PassStats is what one pass over a partition (or over all) did.
type PassStats struct {
	Partitions int   // partitions archived (lease held)
	Read       int64 // entries read from the streams
	Rows       int64 // rows inserted into MySQL (re-inserts not counted)
	Trimmed    int64 // entries removed from the streams
	Expired    int64 // pending entries past the max age acknowledged
	Held       int   // rooms whose trim waits for younger pending entries
	LagMs      int64 // age past the hot window of the oldest entry left due
	Err        error // the first error of the pass
}

func (s *PassStats) add(o PassStats) {
	s.Partitions += o.Partitions
	s.Read += o.Read
	s.Rows += o.Rows
	s.Trimmed += o.Trimmed
	s.Expired += o.Expired
	s.Held += o.Held
	s.LagMs = max(s.LagMs, o.LagMs)
	if s.Err == nil {
		s.Err = o.Err
	}
}

// Run archives every Interval until ctx ends, then releases its leases.
func (a *Archiver) Run(ctx context.Context) {
	a.log.Info("archiver started", "owner", a.cfg.Owner, "hotWindow", a.cfg.HotWindow.String(),
		"maxAge", a.cfg.MaxAge.String(), "interval", a.cfg.Interval.String())
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.releaseAll(context.WithoutCancel(ctx))
			return
		case <-t.C:
		}
		st := a.RunOnce(ctx)
		if st.Err != nil && ctx.Err() == nil {
			a.log.Warn("archive pass failed; retrying next interval", "err", st.Err,
				"rows", st.Rows, "trimmed", st.Trimmed, "lagMs", st.LagMs)
		} else if st.Rows > 0 || st.Trimmed > 0 || st.Expired > 0 {
			a.log.Info("archive pass", "partitions", st.Partitions, "rows", st.Rows, "trimmed", st.Trimmed,
				"expired", st.Expired, "held", st.Held)
		}
		t.Reset(a.cfg.Interval)
	}
}

// RunOnce makes one pass over every partition whose lease it gets, with
// Config.Workers partitions at a time, and returns the totals.
func (a *Archiver) RunOnce(ctx context.Context) PassStats {
	parts := make(chan int)
	var (
		mu    sync.Mutex
		total PassStats
		wg    sync.WaitGroup
	)
	for range min(a.cfg.Workers, a.b.Partitions()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range parts {
				st := a.archivePartition(ctx, p)
				mu.Lock()
				total.add(st)
				mu.Unlock()
			}
		}()
	}
	for p := range a.b.Partitions() {
		parts <- p
	}
	close(parts)
	wg.Wait()
	return total
}

// redisNow is Redis's clock in Unix milliseconds: stream ids come from it,
// so the hot window and the max age are measured on the same clock.
func (a *Archiver) redisNow(ctx context.Context) (int64, error) {
	t, err := a.b.Redis().Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("redis time: %w", err)
	}
	return t.UnixMilli(), nil
}

func (a *Archiver) lease(ctx context.Context, key string) (bool, error) {
	n, err := a.b.Redis().FCall(ctx, "rcparch_lease", []string{key}, a.cfg.Owner, a.cfg.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", key, err)
	}
	return n == 1, nil
}

func (a *Archiver) release(ctx context.Context, key string) {
	if err := a.b.Redis().FCall(ctx, "rcparch_release", []string{key}, a.cfg.Owner).Err(); err != nil {
		a.log.Warn("release lease", "key", key, "err", err)
	}
}

func (a *Archiver) releaseAll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for p := range a.b.Partitions() {
		a.release(ctx, partitionKeys(a.b, p).lease())
	}
}

func (a *Archiver) queries() *rcpdb.Queries { return rcpdb.New(a.db) }
