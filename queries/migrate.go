// Package queries owns the MySQL schema of RCP: the goose migrations under
// migrations/ (embedded into the binary), the SQL that sqlc compiles into
// package rcpdb (*.sql in this folder), and how a database handle is opened
// so that the generated code can rely on it.
package queries

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/rcp/rcp/sqlc/rcpdb"
)

//go:embed migrations/*.sql
var embedded embed.FS

// migrationLock is the GET_LOCK name that serializes migrations when several
// rcpd nodes start at once.
const migrationLock = "rcp.migrate"

// migrationLockWait is how long (seconds) a node waits for another node's
// migration before giving up.
const migrationLockWait = 300

// ErrMigrationLocked is returned when another process held the migration lock
// for longer than the wait.
var ErrMigrationLocked = errors.New("queries: another process is migrating the database")

// Migrations returns the embedded migration files (NNNNN_name.sql, goose format).
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(fmt.Sprintf("queries: embedded migrations: %v", err)) // the embed pattern guarantees the folder
	}
	return sub
}

// Migrate applies every pending migration. It is idempotent: on an up-to-date
// database it changes nothing. Concurrent callers (several nodes starting)
// serialize on a named lock, and the later ones find nothing to do. The lock
// is held on a connection of its own, so db must allow at least two.
func Migrate(ctx context.Context, db *sql.DB) error {
	if db.Stats().MaxOpenConnections == 1 {
		return errors.New("queries: Migrate needs a pool of at least two connections (one holds the lock)")
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db, Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("queries: migration provider: %w", err)
	}
	unlock, err := lock(ctx, db)
	if err != nil {
		return err
	}
	defer unlock()
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("queries: migrate up: %w", err)
	}
	for _, r := range results {
		slog.InfoContext(ctx, "migration applied",
			"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// lock takes the migration lock on a connection reserved for it. The whole of
// goose's Up runs under it: goose's own session locker leaves the creation of
// its version table unlocked, and with MySQL's implicit commit after CREATE
// TABLE a second node can see the table before its first row.
func lock(ctx context.Context, db *sql.DB) (unlock func(), err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("queries: connection for the migration lock: %w", err)
	}
	q := rcpdb.New(conn)
	ok, err := q.AcquireLock(ctx, rcpdb.AcquireLockParams{Name: migrationLock, TimeoutSeconds: migrationLockWait})
	if err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("queries: acquire lock %q: %w", migrationLock, err)
		}
		return nil, fmt.Errorf("%w (lock %q, waited %ds)", ErrMigrationLocked, migrationLock, migrationLockWait)
	}
	return func() {
		// The lock dies with its connection anyway; releasing first lets the
		// connection go back to the pool clean.
		if _, err := q.ReleaseLock(context.WithoutCancel(ctx), migrationLock); err != nil {
			slog.WarnContext(ctx, "release migration lock", "lock", migrationLock, "error", err)
		}
		conn.Close()
	}, nil
}
