package archiver

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// Config tunes the archiver. Zero fields take DefaultConfig's values.
type Config struct {
	// HotWindow is how long entries stay in Redis only (RCP_HOT_WINDOW).
	HotWindow time.Duration
	// MaxAge is the ledger's max age: a pending entry older than this no
	// longer holds the trim back; it is escalated once more and acknowledged.
	MaxAge time.Duration
	// Interval is the pause between two archive passes.
	Interval time.Duration
	// LeaseTTL is how long a partition lease outlives a crashed holder.
	LeaseTTL time.Duration
	// BatchRows bounds the rows of one MySQL transaction.
	BatchRows int
	// RoomRows bounds the entries read from one room per batch.
	RoomRows int
	// Workers is how many partitions one node archives at once.
	Workers int
	// Owner names this archiver in leases; default host-pid-random.
	Owner string
	// Escalator hears about expired pending entries before they are
	// acknowledged; default LogEscalator.
	Escalator Escalator
	Metrics   *Metrics
	Logger    *slog.Logger
}

// DefaultConfig is the configuration of DESIGN.md.
func DefaultConfig() Config {
	return Config{
		HotWindow: 7 * 24 * time.Hour, MaxAge: 30 * 24 * time.Hour,
		Interval: 30 * time.Second, LeaseTTL: 30 * time.Second,
		BatchRows: 4096, RoomRows: 512, Workers: 2,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&c.HotWindow, d.HotWindow)
	set(&c.MaxAge, d.MaxAge)
	set(&c.Interval, d.Interval)
	set(&c.LeaseTTL, d.LeaseTTL)
	if c.BatchRows <= 0 {
		c.BatchRows = d.BatchRows
	}
	if c.RoomRows <= 0 {
		c.RoomRows = d.RoomRows
	}
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Owner == "" {
		c.Owner = defaultOwner()
	}
	if c.Escalator == nil {
		c.Escalator = LogEscalator{Logger: c.Logger}
	}
	return c
}

// defaultOwner is unique per process: host, pid and a random suffix.
func defaultOwner() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), rand.Text()[:6])
}
