package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/rcp/rcp/broker"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// config is everything rcpd reads from flags and RCP_* environment
// variables; a flag wins over its variable, the variable over the default.
type config struct {
	Listen          string
	StompTCP        string
	RedisURL        string
	KeyPrefix       string
	MySQLDSN        string
	Partitions      int
	JWTSecret       string
	JWTJWKS         string
	InsecureDevAuth bool
	Heartbeat       time.Duration
	MaxBody         int
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Archive         archiveConfig // archiver and retention (archive.go)
	SendRate        float64       // SENDs per second per connection
	SendBurst       int
	PprofListen     string      // net/http/pprof on its own listener, empty = off
	GCHeadroomMB    int         // heap growth past the live heap before a collection (gc.go)
	Push            pushConfig  // escalation and push (push.go)
	Media           mediaConfig // blob store and images (media.go)
}

func parseConfig(fs *flag.FlagSet, args []string) (config, error) {
	var c config
	var level string
	fs.StringVar(&c.Listen, "listen", env("RCP_LISTEN", ":8080"), "HTTP and WebSocket listen address (RCP_LISTEN)")
	fs.StringVar(&c.StompTCP, "stomp-tcp", env("RCP_STOMP_TCP", ""), "plain TCP STOMP listen address, empty = off (RCP_STOMP_TCP)")
	fs.StringVar(&c.RedisURL, "redis-url", env("RCP_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL; several comma-separated addresses = Cluster (RCP_REDIS_URL)")
	fs.StringVar(&c.KeyPrefix, "key-prefix", env("RCP_KEY_PREFIX", "rcp"), "prefix of every Redis key (RCP_KEY_PREFIX)")
	fs.StringVar(&c.MySQLDSN, "mysql-dsn", env("RCP_MYSQL_DSN", ""), "MySQL DSN, go-sql-driver format (RCP_MYSQL_DSN)")
	fs.IntVar(&c.Partitions, "partitions", envInt("RCP_PARTITIONS", 16), "room partitions (RCP_PARTITIONS)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", env("RCP_JWT_SECRET", ""), "HS256 secret (RCP_JWT_SECRET)")
	fs.StringVar(&c.JWTJWKS, "jwt-jwks", env("RCP_JWT_JWKS", ""), "JWKS file or URL for RS256/ES256 (RCP_JWT_JWKS)")
	fs.BoolVar(&c.InsecureDevAuth, "insecure-dev-auth", envBool("RCP_INSECURE_DEV_AUTH"), "accept login = user id without a token (development only)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", envDuration("RCP_HEARTBEAT", 10*time.Second), "STOMP heart-beat the server offers and asks for (RCP_HEARTBEAT)")
	fs.IntVar(&c.MaxBody, "max-body", envInt("RCP_MAX_BODY", 4<<20), "largest STOMP body in bytes; with a blob store at least what the largest base64 image needs unless set (RCP_MAX_BODY)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDuration("RCP_SHUTDOWN_TIMEOUT", 10*time.Second), "drain deadline on SIGTERM (RCP_SHUTDOWN_TIMEOUT)")
	fs.Float64Var(&c.SendRate, "send-rate", envParsed("RCP_SEND_RATE", 50.0, parseFloat), "SENDs per second per connection (RCP_SEND_RATE)")
	fs.IntVar(&c.SendBurst, "send-burst", envInt("RCP_SEND_BURST", 100), "SENDs a connection may burst above the rate (RCP_SEND_BURST)")
	fs.StringVar(&c.PprofListen, "pprof", env("RCP_PPROF", ""), "listen address of net/http/pprof, e.g. 127.0.0.1:6060; empty = off (RCP_PPROF)")
	fs.IntVar(&c.GCHeadroomMB, "gc-headroom-mb", envInt("RCP_GC_HEADROOM_MB", DefaultGCHeadroom>>20), "MB the heap may grow past the live heap before a collection; 0 = Go's GOGC alone; ignored when GOGC is set (RCP_GC_HEADROOM_MB)")
	c.Archive.register(fs)
	c.Push.register(fs)
	c.Media.register(fs)
	fs.StringVar(&level, "log-level", env("RCP_LOG_LEVEL", "info"), "debug, info, warn or error (RCP_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := errors.Join(envErrs...); err != nil {
		return c, err
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("log level %q: %w", level, err)
	}
	if c.GCHeadroomMB < 0 || c.GCHeadroomMB > 1<<20 {
		return c, fmt.Errorf("gc-headroom-mb %d: want 0..1048576", c.GCHeadroomMB)
	}
	if c.Partitions < 1 || c.Partitions > 16384 {
		return c, fmt.Errorf("partitions %d: want 1..16384", c.Partitions)
	}
	if !broker.ValidID(c.KeyPrefix) {
		return c, fmt.Errorf("key prefix %q: want 1 to 128 of A-Z a-z 0-9 _ -", c.KeyPrefix)
	}
	if c.SendRate <= 0 || c.SendBurst < 1 {
		return c, fmt.Errorf("send-rate %v, send-burst %d: want both positive", c.SendRate, c.SendBurst)
	}
	if err := c.Archive.validate(); err != nil {
		return c, err
	}
	if err := c.Push.validate(); err != nil {
		return c, err
	}
	if err := c.Media.validate(); err != nil {
		return c, err
	}
	if !flagOrEnvSet(fs, "max-body", "RCP_MAX_BODY") && c.Media.enabled() {
		c.MaxBody = max(c.MaxBody, imageMaxBody(c.Media.ImageMax))
	}
	if c.MaxBody < 1024 {
		return c, fmt.Errorf("max-body %d: want at least 1024", c.MaxBody)
	}
	return c, nil
}

// flagOrEnvSet reports whether the flag or its variable was given.
func flagOrEnvSet(fs *flag.FlagSet, name, key string) bool {
	_, set := os.LookupEnv(key)
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// envErrs collects RCP_* variables that are set but do not parse; they fail
// parseConfig instead of silently falling back to defaults.
var envErrs []error

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func envParsed[T any](key string, def T, parse func(string) (T, error)) T {
	s, ok := os.LookupEnv(key)
	if !ok || s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s=%q: %w", key, s, err))
		return def
	}
	return v
}

func envInt(key string, def int) int { return envParsed(key, def, strconv.Atoi) }

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

func envBool(key string) bool { return envParsed(key, false, strconv.ParseBool) }

func envDuration(key string, def time.Duration) time.Duration {
	return envParsed(key, def, time.ParseDuration)
}
