package archiver

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// BlobRetention is the blob store's hook: ExpireBlobs deletes a room's
// blobs created before cutoff, ExpireUploads the uploads that no SEND
// claimed created before cutoff; each at most limit of them, returning how
// many it deleted. Without one (no blob store) blobs are left alone.
type BlobRetention interface {
	ExpireBlobs(ctx context.Context, room string, cutoff time.Time, limit int) (int, error)
	ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// RetentionConfig tunes the retention jobs.
type RetentionConfig struct {
	// O2OExpiry deletes an O2O room this long after it was closed; 0 never.
	O2OExpiry time.Duration
	// UploadTTL deletes an upload no SEND claimed this long after it was
	// stored; 0 never.
	UploadTTL time.Duration
	// Interval is the pause between two runs.
	Interval time.Duration
	// Batch bounds the rows of one DELETE.
	Batch int
	// LeaseTTL bounds how long a crashed node holds the jobs' lease.
	LeaseTTL time.Duration
	Owner    string
	Blobs    BlobRetention
	Metrics  *Metrics
	Logger   *slog.Logger
}

// Retention runs the retention jobs: per room text and media days (0 keeps
// forever) and the expiry of closed O2O rooms.
type Retention struct {
	b   *broker.Broker
	db  *sql.DB
	cfg RetentionConfig
}

// NewRetention returns the jobs; call LoadFunctions before running them.
func NewRetention(b *broker.Broker, db *sql.DB, cfg RetentionConfig) *Retention {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Hour
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 1000
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = 5 * time.Minute
	}
	if cfg.Owner == "" {
		cfg.Owner = defaultOwner()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Retention{b: b, db: db, cfg: cfg}
}

// RetentionStats is what one run deleted.
type RetentionStats struct {
	Text, Media  int64 // rows past the rooms' text and media days
	ExpiredRows  int64 // rows of expired O2O rooms
	ExpiredRooms int
	Blobs        int
	Uploads      int // unclaimed uploads past UploadTTL
}

// Run runs the jobs every Interval until ctx ends; one node at a time runs
// them (a lease in Redis).
func (r *Retention) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.runLeased(ctx)
		t.Reset(r.cfg.Interval)
	}
}

func (r *Retention) runLeased(ctx context.Context) {
	key := partitionKeys(r.b, 0).retention()
	rd := r.b.Redis()
	ok, err := rd.FCall(ctx, "rcparch_lease", []string{key}, r.cfg.Owner, r.cfg.LeaseTTL.Milliseconds()).Int()
	if err != nil || ok != 1 {
		if err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("retention lease", "err", err)
		}
		return
	}
	defer rd.FCall(context.WithoutCancel(ctx), "rcparch_release", []string{key}, r.cfg.Owner)
	st, err := r.RunOnce(ctx, time.Now())
	if err != nil && ctx.Err() == nil {
		r.cfg.Metrics.failed("retention")
		r.cfg.Logger.Warn("retention run failed; retrying next interval", "err", err)
		return
	}
	if st != (RetentionStats{}) {
		r.cfg.Logger.Info("retention run", "text", st.Text, "media", st.Media,
			"expiredRooms", st.ExpiredRooms, "expiredRows", st.ExpiredRows, "blobs", st.Blobs, "uploads", st.Uploads)
	}
}

// RunOnce deletes what is past policy at now, in bounded batches.
func (r *Retention) RunOnce(ctx context.Context, now time.Time) (RetentionStats, error) {
	var st RetentionStats
	if err := r.roomPolicies(ctx, now, &st); err != nil {
		return st, err
	}
	if r.cfg.O2OExpiry > 0 {
		if err := r.expireRooms(ctx, now.Add(-r.cfg.O2OExpiry), &st); err != nil {
			return st, err
		}
	}
	if r.cfg.UploadTTL > 0 && r.cfg.Blobs != nil {
		if err := r.uploads(ctx, now.Add(-r.cfg.UploadTTL), &st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// uploads deletes, in batches, the uploads no SEND claimed before cutoff.
func (r *Retention) uploads(ctx context.Context, cutoff time.Time, st *RetentionStats) error {
	n, err := r.drain(ctx, func(limit int32) (int64, error) {
		n, err := r.cfg.Blobs.ExpireUploads(ctx, cutoff, int(limit))
		return int64(n), err
	})
	st.Uploads += int(n)
	if err != nil {
		return fmt.Errorf("retention: unclaimed uploads: %w", err)
	}
	return nil
}

// roomPolicies applies every room's text and media days.
func (r *Retention) roomPolicies(ctx context.Context, now time.Time, st *RetentionStats) error {
	q := rcpdb.New(r.db)
	after := ""
	for {
		rooms, err := q.ListRoomsWithRetention(ctx, rcpdb.ListRoomsWithRetentionParams{After: after, Limit: 500})
		if err != nil {
			return fmt.Errorf("retention: list rooms: %w", err)
		}
		for _, room := range rooms {
			if err := r.applyRoom(ctx, room, now, st); err != nil {
				return err
			}
		}
		if len(rooms) < 500 {
			return nil
		}
		after = rooms[len(rooms)-1].ID
	}
}

func (r *Retention) applyRoom(ctx context.Context, room rcpdb.ListRoomsWithRetentionRow, now time.Time, st *RetentionStats) error {
	q := rcpdb.New(r.db)
	if d := room.TextRetentionDays; d > 0 {
		cutoff := days(now, d)
		n, err := r.drain(ctx, func(limit int32) (int64, error) {
			return q.DeleteTextMessagesBefore(ctx, rcpdb.DeleteTextMessagesBeforeParams{RoomID: room.ID, CutoffMs: uint64(cutoff.UnixMilli()), Limit: limit})
		})
		st.Text += n
		r.cfg.Metrics.deletedRows("text", n)
		if err != nil {
			return fmt.Errorf("retention: text of %s: %w", room.ID, err)
		}
	}
	if d := room.MediaRetentionDays; d > 0 {
		cutoff := days(now, d)
		n, err := r.drain(ctx, func(limit int32) (int64, error) {
			return q.DeleteMediaMessagesBefore(ctx, rcpdb.DeleteMediaMessagesBeforeParams{RoomID: room.ID, CutoffMs: uint64(cutoff.UnixMilli()), Limit: limit})
		})
		st.Media += n
		r.cfg.Metrics.deletedRows("media", n)
		if err != nil {
			return fmt.Errorf("retention: media of %s: %w", room.ID, err)
		}
		if err := r.blobs(ctx, room.ID, cutoff, st); err != nil {
			return err
		}
	}
	return nil
}

func days(now time.Time, d uint32) time.Time { return now.Add(-time.Duration(d) * 24 * time.Hour) }

// drain repeats a bounded DELETE until it deletes less than a batch.
func (r *Retention) drain(ctx context.Context, del func(limit int32) (int64, error)) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		n, err := del(int32(r.cfg.Batch))
		total += n
		if err != nil || n < int64(r.cfg.Batch) {
			return total, err
		}
	}
	return total, ctx.Err()
}

func (r *Retention) blobs(ctx context.Context, room string, cutoff time.Time, st *RetentionStats) error {
	if r.cfg.Blobs == nil {
		return nil
	}
	for {
		n, err := r.cfg.Blobs.ExpireBlobs(ctx, room, cutoff, r.cfg.Batch)
		st.Blobs += n
		if err != nil {
			return fmt.Errorf("retention: blobs of %s: %w", room, err)
		}
		if n < r.cfg.Batch {
			return nil
		}
	}
}

// expireRooms deletes the O2O rooms closed before cutoff: their rows and
// blobs in batches, then their Redis keys, then the room (and with it its
// memberships). A crash midway leaves the room in place for the next run.
func (r *Retention) expireRooms(ctx context.Context, cutoff time.Time, st *RetentionStats) error {
	q := rcpdb.New(r.db)
	for {
		rooms, err := q.ListO2ORoomsClosedBefore(ctx, rcpdb.ListO2ORoomsClosedBeforeParams{
			Cutoff: sql.NullTime{Time: cutoff, Valid: true}, Limit: 100})
		if err != nil {
			return fmt.Errorf("retention: list expired rooms: %w", err)
		}
		for _, room := range rooms {
			if err := r.expireRoom(ctx, room.ID, st); err != nil {
				return err
			}
		}
		if len(rooms) < 100 {
			return nil
		}
	}
}

func (r *Retention) expireRoom(ctx context.Context, room string, st *RetentionStats) error {
	q := rcpdb.New(r.db)
	n, err := r.drain(ctx, func(limit int32) (int64, error) {
		return q.DeleteRoomMessages(ctx, rcpdb.DeleteRoomMessagesParams{RoomID: room, Limit: limit})
	})
	st.ExpiredRows += n
	r.cfg.Metrics.deletedRows("expired", n)
	if err != nil {
		return fmt.Errorf("retention: messages of expired room %s: %w", room, err)
	}
	if err := r.blobs(ctx, room, time.Now().Add(time.Hour), st); err != nil {
		return err
	}
	k := partitionKeys(r.b, broker.Partition(room, r.b.Partitions()))
	keys := []string{k.Room(room), k.Members(room), k.Heads(), k.cursor(), k.Due()}
	if err := r.b.Redis().FCall(ctx, "rcparch_drop_room", keys, room).Err(); err != nil {
		return fmt.Errorf("retention: drop expired room %s from redis: %w", room, err)
	}
	if _, err := q.DeleteRoom(ctx, room); err != nil {
		return fmt.Errorf("retention: delete expired room %s: %w", room, err)
	}
	st.ExpiredRooms++
	r.cfg.Metrics.roomExpired()
	r.cfg.Logger.Info("expired room deleted", "room", room, "rows", n)
	return nil
}
