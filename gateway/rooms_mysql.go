package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/sqlc/rcpdb"
)

// MySQL errors worth retrying the whole transaction for.
const (
	mysqlLockWaitTimeout = 1205
	mysqlDeadlock        = 1213
	maxTxAttempts        = 5
)

// MySQLRoomStoreConfig configures a MySQLRoomStore.
type MySQLRoomStoreConfig struct {
	// MemberLimit bounds the members of a group or o2o room (default 1000).
	MemberLimit int
}

// MySQLRoomStore is the RoomStore on MySQL/MariaDB, through the sqlc
// package rcpdb. Open db with queries.Open and migrate it first.
type MySQLRoomStore struct {
	db          *sql.DB
	memberLimit int
}

var _ RoomStore = (*MySQLRoomStore)(nil)

// NewMySQLRoomStore returns a store on db.
func NewMySQLRoomStore(db *sql.DB, cfg MySQLRoomStoreConfig) *MySQLRoomStore {
	if cfg.MemberLimit <= 0 {
		cfg.MemberLimit = DefaultMemberLimit
	}
	return &MySQLRoomStore{db: db, memberLimit: cfg.MemberLimit}
}

// Create implements RoomStore. The room row and its members are written in
// one transaction; with a caller-chosen id the INSERT IGNORE makes
// concurrent identical creates converge on one room.
func (s *MySQLRoomStore) Create(ctx context.Context, spec RoomSpec) (Room, bool, error) {
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		return Room{}, false, err
	}
	if len(spec.Members) > s.memberLimit {
		return Room{}, false, fmt.Errorf("%w: %d members, the limit is %d", ErrMemberLimit, len(spec.Members), s.memberLimit)
	}
	if spec.ID == "" {
		spec.ID = newRoomID()
	}
	digest := spec.digest()
	now := dbNow()
	var created bool
	err := s.inTx(ctx, func(q *rcpdb.Queries) error {
		n, err := q.CreateRoom(ctx, rcpdb.CreateRoomParams{
			ID:                 spec.ID,
			Name:               spec.Name,
			Kind:               rcpdb.RoomsKind(spec.Kind),
			CreatedAt:          now,
			TextRetentionDays:  uint32(spec.TextRetentionDays),
			MediaRetentionDays: uint32(spec.MediaRetentionDays),
			PushPreview:        dbPreview(spec.PushPreview),
			SpecSha256:         digest,
		})
		if err != nil {
			return fmt.Errorf("insert room: %w", err)
		}
		if created = n == 1; !created {
			return nil
		}
		for _, user := range spec.Members {
			p := rcpdb.AddMemberParams{RoomID: spec.ID, UserID: user, Role: RoleMember, JoinedAt: now}
			if _, err := q.AddMember(ctx, p); err != nil {
				return fmt.Errorf("insert member %s: %w", user, err)
			}
		}
		return nil
	})
	if err != nil {
		return Room{}, false, fmt.Errorf("create room %s: %w", spec.ID, err)
	}
	if created {
		return newRoom(spec, now), true, nil
	}
	return s.existing(ctx, spec.ID, digest)
}

// existing returns the room an idempotent create found, if it was created
// from the same spec.
func (s *MySQLRoomStore) existing(ctx context.Context, id string, digest []byte) (Room, bool, error) {
	room, stored, err := s.get(ctx, id)
	if err != nil {
		return Room{}, false, fmt.Errorf("create room %s: read existing: %w", id, err)
	}
	if !bytes.Equal(stored, digest) {
		return Room{}, false, fmt.Errorf("create room %s: %w", id, ErrRoomExists)
	}
	return room, false, nil
}

// Get implements RoomStore.
func (s *MySQLRoomStore) Get(ctx context.Context, roomID string) (Room, error) {
	room, _, err := s.get(ctx, roomID)
	if err != nil {
		return Room{}, fmt.Errorf("get room %s: %w", roomID, err)
	}
	return room, nil
}

// get reads the room and its members from one snapshot, and the room's spec
// digest.
func (s *MySQLRoomStore) get(ctx context.Context, roomID string) (Room, []byte, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Room{}, nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read only; nothing to undo
	q := rcpdb.New(tx)
	r, err := q.GetRoom(ctx, roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return Room{}, nil, ErrRoomNotFound
	}
	if err != nil {
		return Room{}, nil, err
	}
	rows, err := q.ListRoomMembers(ctx, roomID)
	if err != nil {
		return Room{}, nil, fmt.Errorf("members: %w", err)
	}
	room := roomFromRow(r)
	room.Members = make([]Member, len(rows))
	for i, m := range rows {
		room.Members[i] = memberFromRow(m)
	}
	return room, r.SpecSha256, nil
}

// AddMember implements RoomStore. The room row is locked for the
// transaction, so member changes of one room serialize and the member limit
// holds; the primary key and INSERT IGNORE make a repeated add a no-op.
func (s *MySQLRoomStore) AddMember(ctx context.Context, roomID, userID string) (Member, bool, error) {
	var (
		m     Member
		added bool
	)
	err := s.inTx(ctx, func(q *rcpdb.Queries) error {
		r, err := q.LockRoom(ctx, roomID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrRoomNotFound
		case err != nil:
			return fmt.Errorf("lock room: %w", err)
		case r.ClosedAt.Valid:
			return ErrRoomClosed
		}
		n, err := q.AddMember(ctx, rcpdb.AddMemberParams{RoomID: roomID, UserID: userID, Role: RoleMember, JoinedAt: dbNow()})
		if err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		if added = n == 1; added {
			if err := s.checkLimit(ctx, q, roomID, RoomKind(r.Kind)); err != nil {
				return err
			}
		}
		row, err := q.GetMember(ctx, rcpdb.GetMemberParams{RoomID: roomID, UserID: userID})
		if err != nil {
			return fmt.Errorf("read member: %w", err)
		}
		m = memberFromRow(row)
		return nil
	})
	if err != nil {
		return Member{}, false, fmt.Errorf("add member %s to room %s: %w", userID, roomID, err)
	}
	return m, added, nil
}

// checkLimit fails (and so rolls back the add) when the room now has more
// members than its kind allows.
func (s *MySQLRoomStore) checkLimit(ctx context.Context, q *rcpdb.Queries, roomID string, kind RoomKind) error {
	limit := s.memberLimit
	if kind == KindDirect {
		limit = directMembers
	}
	n, err := q.CountRoomMembers(ctx, roomID)
	if err != nil {
		return fmt.Errorf("count members: %w", err)
	}
	if n > int64(limit) {
		return fmt.Errorf("%w: a %s room has at most %d members", ErrMemberLimit, kind, limit)
	}
	return nil
}

// RemoveMember implements RoomStore. Like AddMember it locks the room row
// first: member changes of one room serialize instead of deadlocking on the
// member row and its index gap.
func (s *MySQLRoomStore) RemoveMember(ctx context.Context, roomID, userID string) (bool, error) {
	var removed bool
	err := s.inTx(ctx, func(q *rcpdb.Queries) error {
		if _, err := q.LockRoom(ctx, roomID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrRoomNotFound
			}
			return fmt.Errorf("lock room: %w", err)
		}
		n, err := q.RemoveMember(ctx, rcpdb.RemoveMemberParams{RoomID: roomID, UserID: userID})
		if err != nil {
			return fmt.Errorf("delete member: %w", err)
		}
		removed = n == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("remove member %s from room %s: %w", userID, roomID, err)
	}
	return removed, nil
}

// Close implements RoomStore.
func (s *MySQLRoomStore) Close(ctx context.Context, roomID string) (Room, error) {
	q := rcpdb.New(s.db)
	at := sql.NullTime{Time: dbNow(), Valid: true}
	if _, err := q.CloseRoom(ctx, rcpdb.CloseRoomParams{ClosedAt: at, ID: roomID}); err != nil {
		return Room{}, fmt.Errorf("close room %s: %w", roomID, err)
	}
	room, _, err := s.get(ctx, roomID)
	if err != nil {
		return Room{}, fmt.Errorf("close room %s: %w", roomID, err)
	}
	return room, nil
}

// ListForUser implements RoomStore.
func (s *MySQLRoomStore) ListForUser(ctx context.Context, userID, after string, limit int) ([]UserRoom, error) {
	rows, err := rcpdb.New(s.db).ListUserRooms(ctx, rcpdb.ListUserRoomsParams{
		UserID: userID, After: after, Limit: int32(min(max(limit, 0), 1<<31-1)),
	})
	if err != nil {
		return nil, fmt.Errorf("list rooms of %s: %w", userID, err)
	}
	out := make([]UserRoom, len(rows))
	for i, r := range rows {
		out[i] = UserRoom{
			Room: roomFromRow(rcpdb.Room{
				ID: r.ID, Name: r.Name, Kind: r.Kind, CreatedAt: r.CreatedAt, ClosedAt: r.ClosedAt,
				TextRetentionDays: r.TextRetentionDays, MediaRetentionDays: r.MediaRetentionDays,
				PushPreview: r.PushPreview,
			}),
			Role:     string(r.Role),
			JoinedAt: r.JoinedAt,
		}
	}
	return out, nil
}

// inTx runs fn in a transaction, again from the start (up to maxTxAttempts)
// when MySQL picked it as a deadlock victim or a lock wait timed out. fn must
// reset whatever it reports on each call.
func (s *MySQLRoomStore) inTx(ctx context.Context, fn func(*rcpdb.Queries) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, fn)
		if err == nil || !retryable(err) || attempt == maxTxAttempts {
			return err
		}
		backoff := time.Duration(attempt) * time.Duration(1+mrand.IntN(10)) * time.Millisecond
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (retrying after: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
	}
}

func (s *MySQLRoomStore) tx(ctx context.Context, fn func(*rcpdb.Queries) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(rcpdb.New(tx)); err != nil {
		tx.Rollback() //nolint:errcheck // the fn error is the one to report
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == mysqlDeadlock || me.Number == mysqlLockWaitTimeout)
}

// dbNow is the current time as DATETIME(3) stores it.
func dbNow() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newRoomID returns 26 random base32 characters (128 bits, A-Z 2-7): ids
// the server chooses never collide in practice and never start with "-".
func newRoomID() string { return rand.Text() }

func newRoom(spec RoomSpec, created time.Time) Room {
	room := Room{
		ID:                 spec.ID,
		Name:               spec.Name,
		Kind:               spec.Kind,
		Members:            make([]Member, len(spec.Members)),
		TextRetentionDays:  spec.TextRetentionDays,
		MediaRetentionDays: spec.MediaRetentionDays,
		PushPreview:        spec.PushPreview,
		CreatedAt:          created,
	}
	for i, u := range spec.Members {
		room.Members[i] = Member{RoomID: spec.ID, UserID: u, Role: RoleMember, JoinedAt: created}
	}
	return room
}

func roomFromRow(r rcpdb.Room) Room {
	room := Room{
		ID:                 r.ID,
		Name:               r.Name,
		Kind:               RoomKind(r.Kind),
		TextRetentionDays:  int(r.TextRetentionDays),
		MediaRetentionDays: int(r.MediaRetentionDays),
		CreatedAt:          r.CreatedAt,
	}
	if r.PushPreview.Valid {
		room.PushPreview = PushPreview(r.PushPreview.RoomsPushPreview)
	}
	if r.ClosedAt.Valid {
		room.ClosedAt = r.ClosedAt.Time
	}
	return room
}

func memberFromRow(m rcpdb.RoomMember) Member {
	return Member{RoomID: m.RoomID, UserID: m.UserID, Role: string(m.Role), JoinedAt: m.JoinedAt}
}

func dbPreview(p PushPreview) rcpdb.NullRoomsPushPreview {
	return rcpdb.NullRoomsPushPreview{RoomsPushPreview: rcpdb.RoomsPushPreview(p), Valid: p != PreviewDefault}
}
