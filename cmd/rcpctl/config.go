package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/queries"
)

// common are the flags every command takes; a flag wins over its RCP_*
// variable, the variable over the default (as in rcpd).
type common struct {
	redisURL   string
	prefix     string
	partitions int
	mysqlDSN   string
	json       bool
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.redisURL, "redis-url", envOr("RCP_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL; several comma-separated addresses = Cluster (RCP_REDIS_URL)")
	fs.StringVar(&c.prefix, "key-prefix", envOr("RCP_KEY_PREFIX", "rcp"), "prefix of every Redis key (RCP_KEY_PREFIX)")
	fs.IntVar(&c.partitions, "partitions", 0, "room partitions, as rcpd's (RCP_PARTITIONS, default 16)")
	fs.StringVar(&c.mysqlDSN, "mysql-dsn", envOr("RCP_MYSQL_DSN", ""), "MySQL DSN, for a user's rooms (RCP_MYSQL_DSN)")
	fs.BoolVar(&c.json, "json", false, "print one JSON document instead of text")
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

// resolve fills what the flags left unset from the environment.
func (c *common) resolve() error {
	if c.partitions == 0 {
		n, err := strconv.Atoi(envOr("RCP_PARTITIONS", "16"))
		if err != nil {
			return fmt.Errorf("RCP_PARTITIONS: %w", err)
		}
		c.partitions = n
	}
	if c.partitions < 1 || c.partitions > 16384 {
		return fmt.Errorf("partitions %d: want 1..16384", c.partitions)
	}
	if !broker.ValidID(c.prefix) {
		return fmt.Errorf("key prefix %q: want 1 to 128 of A-Z a-z 0-9 _ -", c.prefix)
	}
	return nil
}

// open dials Redis and returns a broker with rcpd's key layout. rcpctl
// only reads: it loads no Functions.
func (c *common) open() (*broker.Broker, func(), error) {
	if err := c.resolve(); err != nil {
		return nil, nil, err
	}
	rdb, err := broker.Dial(c.redisURL, c.partitions)
	if err != nil {
		return nil, nil, err
	}
	cfg := broker.DefaultConfig()
	cfg.Prefix, cfg.Partitions = c.prefix, c.partitions
	return broker.New(rdb, cfg), func() { rdb.Close() }, nil
}

// openMySQL connects to RCP_MYSQL_DSN, the system of record for rooms.
func (c *common) openMySQL(ctx context.Context) (*sql.DB, error) {
	if c.mysqlDSN == "" {
		return nil, fmt.Errorf("a user's rooms come from MySQL: set RCP_MYSQL_DSN (or --mysql-dsn), or list them with --rooms a,b")
	}
	return queries.Open(ctx, c.mysqlDSN)
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (rcpctl keys room 42 --json) and returns the latter.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// splitList parses a comma-separated list of ids, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// isNoGroup reports a NOGROUP reply: the user has no consumer group on the
// stream (not a member, or the stream does not exist).
func isNoGroup(err error) bool {
	return err != nil && strings.Contains(err.Error(), "NOGROUP")
}
