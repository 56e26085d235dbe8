package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/metrics"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/stomp"
)

// deps are the connections rcpd opens at start.
type deps struct {
	db       *sql.DB
	rdb      redis.UniversalClient
	broker   *broker.Broker
	verifier *gateway.Verifier
	media    *media.Service // nil: no blob store, images refused
	blobs    http.Handler   // serves the disk store's URLs; nil for S3
}

func openDeps(ctx context.Context, cfg config, log *slog.Logger) (*deps, error) {
	if cfg.MySQLDSN == "" {
		return nil, errors.New("RCP_MYSQL_DSN (or --mysql-dsn) is required")
	}
	if cfg.JWTSecret == "" && cfg.JWTJWKS == "" && !cfg.InsecureDevAuth {
		return nil, errors.New("no way to authenticate: set RCP_JWT_SECRET or RCP_JWT_JWKS (or --insecure-dev-auth for development)")
	}
	d := &deps{}
	var err error
	if d.db, err = queries.Open(ctx, cfg.MySQLDSN); err != nil {
		return nil, err
	}
	if err = queries.Migrate(ctx, d.db); err != nil {
		d.close()
		return nil, err
	}
	if d.media, d.blobs, err = openMedia(ctx, cfg, d.db, log); err != nil {
		d.close()
		return nil, err
	}
	d.verifier, err = gateway.NewVerifier(ctx, gateway.VerifierConfig{
		Secret: []byte(cfg.JWTSecret), JWKS: cfg.JWTJWKS, InsecureDevAuth: cfg.InsecureDevAuth, Logger: log,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	if d.rdb, err = broker.Dial(cfg.RedisURL, cfg.Partitions); err != nil {
		d.close()
		return nil, err
	}
	bcfg := broker.DefaultConfig()
	bcfg.Partitions, bcfg.Prefix, bcfg.Logger = cfg.Partitions, cfg.KeyPrefix, log
	bcfg.OfflineGrace = cfg.Push.OfflineGrace
	d.broker = broker.New(d.rdb, bcfg)
	if err = d.broker.LoadFunctions(ctx); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *deps) close() {
	if d.verifier != nil {
		d.verifier.Close()
	}
	if d.rdb != nil {
		d.rdb.Close()
	}
	if d.db != nil {
		d.db.Close()
	}
}

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	d, err := openDeps(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer d.close()
	st, err := gateway.Reconcile(ctx, d.db, d.broker)
	if err != nil {
		return err
	}
	log.Info("reconciled redis with mysql", "rooms", st.Rooms, "joined", st.Joined, "left", st.Left)
	store := gateway.NewLedgerRoomStore(gateway.NewMySQLRoomStore(d.db, gateway.MySQLRoomStoreConfig{}), d.broker)

	// Background work runs until shutdown has drained the sessions.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopBG()
	acker := d.broker.NewAcker()
	router := gateway.NewRouter(acker)
	fan, err := d.broker.NewFanout(ctx)
	if err != nil {
		return err
	}
	sender := d.broker.NewSender(broker.SenderConfig{}) // SENDs of all connections share pipelines
	wg.Add(4)
	go func() { defer wg.Done(); tuneGC(bg, uint64(cfg.GCHeadroomMB)<<20, log) }()
	go func() { defer wg.Done(); acker.Run(bg) }()
	go func() { defer wg.Done(); sender.Run(bg) }()
	go func() { defer wg.Done(); fan.Run(bg, router.Dispatch) }()

	m := metrics.New()
	scfg := gateway.DefaultSTOMPConfig()
	scfg.SendRate, scfg.SendBurst = rate.Limit(cfg.SendRate), cfg.SendBurst
	handler := gateway.NewSTOMPHandler(d.verifier, d.broker, router, scfg, log)
	handler.SetSender(sender)
	history, syncer := gateway.NewHistory(d.broker, d.db), gateway.NewSyncer(d.broker, d.db)
	handler.SetSync(syncer, history)
	syncAPI := gateway.NewSyncAPI(syncer, history, d.verifier, log)
	if d.media != nil {
		handler.SetMedia(d.media)
		syncAPI.SetMedia(d.media)
	}
	devicesAPI, esc, err := startPush(bg, &wg, cfg, d, handler, m.Registry, log)
	if err != nil {
		return err
	}
	if err := startArchive(bg, &wg, cfg, d, esc, m.Registry, log); err != nil {
		return err
	}
	srv := stomp.NewServer(handler, stompConfig(cfg, log, m))
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /ws", srv)
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", readyz(&ready, d))
	gateway.NewRoomAPI(store, d.verifier, log).Register(mux)
	syncAPI.Register(mux)
	if d.media != nil {
		gateway.NewUploadAPI(d.media, d.broker, d.verifier, log).Register(mux)
	}
	if d.blobs != nil {
		mux.Handle("GET /v1/blobs/", d.blobs)
		mux.Handle("HEAD /v1/blobs/", d.blobs)
	}
	devicesAPI.Register(mux)
	if cfg.PprofListen != "" {
		go servePprof(bg, cfg.PprofListen, log)
	}
	return listenAndServe(ctx, cfg, log, mux, srv, &ready)
}

func stompConfig(cfg config, log *slog.Logger, m *metrics.Metrics) stomp.Config {
	sc := stomp.DefaultConfig()
	sc.HeartbeatSend, sc.HeartbeatRecv = cfg.Heartbeat, cfg.Heartbeat
	sc.Limits.MaxBodySize = cfg.MaxBody
	sc.Limits.MaxFrameSize = cfg.MaxBody + 64<<10
	sc.Logger = log
	sc.Observer = m.STOMP()
	return sc
}

// readyz answers 200 while serving and Redis, MySQL and the blob store (if
// any) answer within a second.
func readyz(ready *atomic.Bool, d *deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := d.broker.Ping(ctx); err != nil {
			http.Error(w, "not ready: redis: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err := d.db.PingContext(ctx); err != nil {
			http.Error(w, "not ready: mysql: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if d.media != nil {
			if err := d.media.Ping(ctx); err != nil {
				http.Error(w, "not ready: blob store: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	}
}

func listenAndServe(ctx context.Context, cfg config, log *slog.Logger, mux *http.ServeMux, srv *stomp.Server, ready *atomic.Bool) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if cfg.StompTCP != "" {
		tl, err := net.Listen("tcp", cfg.StompTCP)
		if err != nil {
			hs.Close()
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
			hs.Close()
			return fmt.Errorf("serve: %w", err)
		}
	}
	return shutdown(cfg, log, ready, hs, srv)
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
