package queries_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/queries/queriestest"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

func TestMigrateFromEmptyThenAgain(t *testing.T) {
	ctx := t.Context()
	db, _ := queriestest.NewEmptyDB(t)

	if got := dbVersion(t, db); got != 0 {
		t.Fatalf("empty database at version %d, want 0", got)
	}
	if err := queries.Migrate(ctx, db); err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	want := latestVersion(t, db)
	if got := dbVersion(t, db); got != want {
		t.Fatalf("after Migrate: version %d, want %d", got, want)
	}

	q := rcpdb.New(db)
	createRoom(t, q, "r1")

	// Second run: nothing to apply, nothing lost.
	if err := queries.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if got := dbVersion(t, db); got != want {
		t.Fatalf("after second Migrate: version %d, want %d", got, want)
	}
	if n, err := q.CountRooms(ctx); err != nil || n != 1 {
		t.Fatalf("rooms after re-migrate = %d, %v; want 1", n, err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	db, _ := queriestest.NewEmptyDB(t)
	const nodes = 4
	errs := make(chan error, nodes)
	var wg sync.WaitGroup
	for range nodes {
		wg.Go(func() { errs <- queries.Migrate(t.Context(), db) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	if got, want := dbVersion(t, db), latestVersion(t, db); got != want {
		t.Fatalf("version %d, want %d", got, want)
	}
}

// TestMigrateDownAndUp keeps the Down sections honest: they must undo the Up
// sections completely, so that Up works again.
func TestMigrateDownAndUp(t *testing.T) {
	ctx := t.Context()
	db := queriestest.NewDB(t)
	p := provider(t, db)
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if _, err := rcpdb.New(db).CountRooms(ctx); err == nil {
		t.Fatal("rooms table still exists after migrating down to 0")
	}
	if err := queries.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate after down: %v", err)
	}
	if _, err := rcpdb.New(db).CountRooms(ctx); err != nil {
		t.Fatalf("rooms table missing after Migrate: %v", err)
	}
}

func TestMigrateCanceled(t *testing.T) {
	db, _ := queriestest.NewEmptyDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := queries.Migrate(ctx, db)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Migrate with a canceled context: %v, want context.Canceled", err)
	}
}

func provider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	p, err := goose.NewProvider(goose.DialectMySQL, db, queries.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("goose provider: %v", err)
	}
	return p
}

func dbVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	v, err := provider(t, db).GetDBVersion(t.Context())
	if err != nil {
		t.Fatalf("database version: %v", err)
	}
	return v
}

func latestVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	src := provider(t, db).ListSources()
	if len(src) == 0 {
		t.Fatal("no embedded migrations")
	}
	return src[len(src)-1].Version
}

func createRoom(t *testing.T, q *rcpdb.Queries, id string) {
	t.Helper()
	n, err := q.CreateRoom(t.Context(), rcpdb.CreateRoomParams{
		ID:         id,
		Name:       "Room " + id,
		Kind:       rcpdb.RoomsKindGroup,
		CreatedAt:  time.Now().UTC().Truncate(time.Millisecond),
		SpecSha256: make([]byte, 32),
	})
	if err != nil || n != 1 {
		t.Fatalf("create room %s: %d rows, %v", id, n, err)
	}
}
