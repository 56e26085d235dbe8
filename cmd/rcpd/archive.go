package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcp/rcp/archiver"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/metrics"
	"github.com/rcp/rcp/queries"
)

// archiveConfig is the archiver's and retention jobs' part of the config.
type archiveConfig struct {
	Enabled           bool          // run them in `rcpd serve` (RCP_ARCHIVER)
	HotWindow         time.Duration // RCP_HOT_WINDOW
	LedgerMaxAge      time.Duration // RCP_LEDGER_MAX_AGE
	Interval          time.Duration // RCP_ARCHIVE_INTERVAL
	Lease             time.Duration // RCP_ARCHIVE_LEASE
	Workers           int           // RCP_ARCHIVE_WORKERS
	O2OExpireDays     int           // RCP_O2O_EXPIRE_DAYS, 0 = never
	RetentionInterval time.Duration // RCP_RETENTION_INTERVAL
	UploadTTL         time.Duration // RCP_UPLOAD_TTL
}

func (a *archiveConfig) register(fs *flag.FlagSet) {
	fs.BoolVar(&a.Enabled, "archiver", envParsed("RCP_ARCHIVER", true, strconv.ParseBool), "run the archiver and retention jobs in this process (RCP_ARCHIVER)")
	a.HotWindow = envParsed("RCP_HOT_WINDOW", 7*24*time.Hour, parseLongDuration)
	fs.Var(longDuration{&a.HotWindow}, "hot-window", "how long entries stay in Redis only, e.g. 7d or 36h (RCP_HOT_WINDOW)")
	a.LedgerMaxAge = envParsed("RCP_LEDGER_MAX_AGE", 30*24*time.Hour, parseLongDuration)
	fs.Var(longDuration{&a.LedgerMaxAge}, "ledger-max-age", "pending entries older than this stop holding the archive trim: escalated once more and acknowledged (RCP_LEDGER_MAX_AGE)")
	fs.DurationVar(&a.Interval, "archive-interval", envDuration("RCP_ARCHIVE_INTERVAL", 30*time.Second), "pause between archive passes (RCP_ARCHIVE_INTERVAL)")
	fs.DurationVar(&a.Lease, "archive-lease", envDuration("RCP_ARCHIVE_LEASE", 30*time.Second), "partition lease TTL: how long a crashed archiver blocks its partitions (RCP_ARCHIVE_LEASE)")
	fs.IntVar(&a.Workers, "archive-workers", envInt("RCP_ARCHIVE_WORKERS", 2), "partitions archived at once (RCP_ARCHIVE_WORKERS)")
	fs.IntVar(&a.O2OExpireDays, "o2o-expire-days", envInt("RCP_O2O_EXPIRE_DAYS", 30), "delete closed O2O rooms this many days after close, 0 = never (RCP_O2O_EXPIRE_DAYS)")
	fs.DurationVar(&a.RetentionInterval, "retention-interval", envDuration("RCP_RETENTION_INTERVAL", time.Hour), "pause between retention runs (RCP_RETENTION_INTERVAL)")
	a.UploadTTL = envParsed("RCP_UPLOAD_TTL", 24*time.Hour, parseLongDuration)
	fs.Var(longDuration{&a.UploadTTL}, "upload-ttl", "delete an upload that no SEND used this long after it was stored, e.g. 1d; 0 = never (RCP_UPLOAD_TTL)")
}

func (a archiveConfig) validate() error {
	if a.HotWindow <= 0 || a.LedgerMaxAge <= 0 || a.Interval <= 0 || a.Lease <= 0 || a.RetentionInterval <= 0 {
		return errors.New("hot-window, ledger-max-age, archive-interval, archive-lease and retention-interval must be positive")
	}
	if a.Workers < 1 || a.O2OExpireDays < 0 {
		return fmt.Errorf("archive-workers %d, o2o-expire-days %d: want ≥ 1 and ≥ 0", a.Workers, a.O2OExpireDays)
	}
	return nil
}

// parseLongDuration parses Go durations and whole or fractional days: 7d.
func parseLongDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(d, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("duration %q: want e.g. 7d, 36h or 90s", s)
		}
		return time.Duration(f * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// longDuration is a flag.Value for parseLongDuration.
type longDuration struct{ p *time.Duration }

func (d longDuration) String() string {
	if d.p == nil {
		return ""
	}
	return d.p.String()
}

func (d longDuration) Set(s string) error {
	v, err := parseLongDuration(s)
	if err == nil {
		*d.p = v
	}
	return err
}

// startArchive runs the archiver and the retention jobs on bg. esc hears
// of pending entries past the ledger's max age (nil: they are logged).
func startArchive(bg context.Context, wg *sync.WaitGroup, cfg config, d *deps, esc archiver.Escalator, reg prometheus.Registerer, log *slog.Logger) error {
	if err := archiver.LoadFunctions(bg, d.broker); err != nil {
		return err
	}
	if !cfg.Archive.Enabled {
		log.Info("archiver off in this process (RCP_ARCHIVER=false)")
		return nil
	}
	m := archiver.NewMetrics(reg)
	a := archiver.New(d.broker, d.db, archiver.Config{
		HotWindow: cfg.Archive.HotWindow, MaxAge: cfg.Archive.LedgerMaxAge, Interval: cfg.Archive.Interval,
		LeaseTTL: cfg.Archive.Lease, Workers: cfg.Archive.Workers, Escalator: esc, Metrics: m, Logger: log,
	})
	rcfg := archiver.RetentionConfig{
		O2OExpiry: time.Duration(cfg.Archive.O2OExpireDays) * 24 * time.Hour, Interval: cfg.Archive.RetentionInterval,
		UploadTTL: cfg.Archive.UploadTTL, Metrics: m, Logger: log,
	}
	if d.media != nil { // a nil *Service must not become a non-nil interface
		rcfg.Blobs = d.media
	}
	r := archiver.NewRetention(d.broker, d.db, rcfg)
	wg.Add(2)
	go func() { defer wg.Done(); a.Run(bg) }()
	go func() { defer wg.Done(); r.Run(bg) }()
	return nil
}

// runArchiver is `rcpd archiver`: the archiver and retention jobs alone,
// with /metrics and /healthz on RCP_LISTEN, until SIGTERM.
func runArchiver(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.MySQLDSN == "" {
		return errors.New("RCP_MYSQL_DSN (or --mysql-dsn) is required")
	}
	d := &deps{}
	defer d.close()
	var err error
	if d.db, err = queries.Open(ctx, cfg.MySQLDSN); err != nil {
		return err
	}
	if err = queries.Migrate(ctx, d.db); err != nil {
		return err
	}
	if d.media, _, err = openMedia(ctx, cfg, d.db, log); err != nil {
		return err
	}
	if d.rdb, err = broker.Dial(cfg.RedisURL, cfg.Partitions); err != nil {
		return err
	}
	bcfg := broker.DefaultConfig()
	bcfg.Partitions, bcfg.Prefix, bcfg.Logger = cfg.Partitions, cfg.KeyPrefix, log
	d.broker = broker.New(d.rdb, bcfg)
	cfg.Archive.Enabled = true
	m := metrics.New()
	var wg sync.WaitGroup
	bg, stop := context.WithCancel(ctx)
	defer wg.Wait()
	defer stop()
	if err := startArchive(bg, &wg, cfg, d, nil, m.Registry, log); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // closed below
	log.Info("rcpd archiver running", "addr", ln.Addr().String())
	<-ctx.Done()
	return hs.Close()
}
