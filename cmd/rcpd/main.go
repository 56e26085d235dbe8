// Command rcpd is the RCP server: STOMP over WebSocket (and optionally TCP),
// health, readiness and metrics endpoints. It only reads configuration,
// wires packages together and handles signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rcp/rcp/metrics"
	"github.com/rcp/rcp/stomp"
	"github.com/rcp/rcp/stomp/memtopic"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rcpd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve":
			args = args[1:]
		case "-h", "--help", "help":
			fmt.Fprintln(os.Stderr, "usage: rcpd [serve] [flags]\n\nrun `rcpd serve -h` for flags")
			return nil
		}
	}
	fs := flag.NewFlagSet("rcpd serve", flag.ContinueOnError)
	cfg, err := parseConfig(fs, args)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	m := metrics.New()
	scfg := stomp.DefaultConfig()
	scfg.HeartbeatSend, scfg.HeartbeatRecv = cfg.Heartbeat, cfg.Heartbeat
	scfg.Limits.MaxBodySize = cfg.MaxBody
	scfg.Limits.MaxFrameSize = cfg.MaxBody + 64<<10
	scfg.Logger = log
	scfg.Observer = m.STOMP()
	srv := stomp.NewServer(memtopic.New(), scfg)

	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /ws", srv)
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.StompTCP != "" {
		tl, err := net.Listen("tcp", cfg.StompTCP)
		if err != nil {
			return fmt.Errorf("listen stomp tcp %s: %w", cfg.StompTCP, err)
		}
		go func() { errc <- srv.ServeTCP(tl) }()
		log.Info("stomp tcp listening", "addr", tl.Addr().String())
	}
	ready.Store(true)
	log.Info("rcpd listening", "addr", ln.Addr().String(), "ws", "/ws")

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	return shutdown(cfg, log, &ready, hs, srv)
}

// shutdown stops accepting, tells every STOMP client "server shutting down"
// and drains within the configured deadline.
func shutdown(cfg config, log *slog.Logger, ready *atomic.Bool, hs *http.Server, srv *stomp.Server) error {
	ready.Store(false)
	log.Info("shutting down", "deadline", cfg.ShutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	httpErr := hs.Shutdown(ctx) // hijacked WebSocket connections are not waited for here
	stompErr := srv.Shutdown(ctx)
	if err := errors.Join(httpErr, stompErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
