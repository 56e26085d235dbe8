// Package queriestest gives tests a private MariaDB/MySQL database: created
// with a unique name on the server named by RCP_TEST_MYSQL_DSN, migrated (or
// left empty), and dropped when the test ends. Tests that use it fail, never
// skip, when the variable is unset.
package queriestest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/queries"
)

// DSNEnv names the environment variable holding the DSN of the test server,
// without a database name, e.g. root@tcp(127.0.0.1:23306)/ (what make test sets).
const DSNEnv = "RCP_TEST_MYSQL_DSN"

// ServerDSN returns the test server's DSN or fails the test with a message
// saying how to provide one.
func ServerDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		tb.Fatalf("%s is not set: these tests need a real MariaDB/MySQL server "+
			"(make test starts one and sets %s=root@tcp(127.0.0.1:23306)/)", DSNEnv, DSNEnv)
	}
	return dsn
}

// NewDB returns a connection to a new, migrated database that is dropped
// when the test ends.
func NewDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, _ := NewEmptyDB(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := queries.Migrate(ctx, db); err != nil {
		tb.Fatalf("migrate test database: %v", err)
	}
	return db
}

// NewEmptyDB returns a connection (opened with queries.Open) to a new, empty
// database and its name. The database is dropped when the test ends.
func NewEmptyDB(tb testing.TB) (*sql.DB, string) {
	tb.Helper()
	cfg, err := mysql.ParseDSN(ServerDSN(tb))
	if err != nil {
		tb.Fatalf("parse %s: %v", DSNEnv, err)
	}
	name := uniqueName(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	admin, err := queries.Open(ctx, cfg.FormatDSN())
	if err != nil {
		tb.Fatalf("connect to the test server (%s): %v", DSNEnv, err)
	}
	// Database names cannot be bound as parameters; name is [a-z0-9_] built
	// by uniqueName, so quoting it is enough.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		admin.Close()
		tb.Fatalf("create test database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})

	cfg.DBName = name
	db, err := queries.Open(ctx, cfg.FormatDSN())
	if err != nil {
		tb.Fatalf("connect to test database %s: %v", name, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, name
}

// uniqueName builds rcpt_<test name, sanitized and shortened>_<random hex>.
func uniqueName(tb testing.TB) string {
	var b strings.Builder
	for _, r := range strings.ToLower(tb.Name()) {
		if b.Len() >= 32 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		tb.Fatalf("random database name: %v", err)
	}
	return fmt.Sprintf("rcpt_%s_%s", b.String(), hex.EncodeToString(rnd[:]))
}
