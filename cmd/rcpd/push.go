package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/gateway"
)

// pushConfig is escalation's part of the config (docs/push.md).
type pushConfig struct {
	OfflineGrace   time.Duration // RCP_OFFLINE_GRACE
	AckTimeout     time.Duration // RCP_ACK_TIMEOUT
	FCMCredentials string        // RCP_FCM_CREDENTIALS: file, empty = ADC, "log"
	FCMEndpoint    string        // RCP_FCM_ENDPOINT: base URL without /v1
	FCMProject     string        // RCP_FCM_PROJECT: overrides the credentials' project
	Preview        string        // RCP_PUSH_PREVIEW: none, sender or text
	PresenceTTL    time.Duration // RCP_PRESENCE_TTL
}

func (p *pushConfig) register(fs *flag.FlagSet) {
	fs.DurationVar(&p.OfflineGrace, "offline-grace", envDuration("RCP_OFFLINE_GRACE", 2*time.Second), "push an offline member's message once pending this long (RCP_OFFLINE_GRACE)")
	fs.DurationVar(&p.AckTimeout, "ack-timeout", envDuration("RCP_ACK_TIMEOUT", 30*time.Second), "push an online member's message not acknowledged within this (RCP_ACK_TIMEOUT)")
	fs.StringVar(&p.FCMCredentials, "fcm-credentials", env("RCP_FCM_CREDENTIALS", ""), "FCM service-account JSON file; empty = Application Default Credentials if any, else log pushes; \"log\" = log pushes (RCP_FCM_CREDENTIALS)")
	fs.StringVar(&p.FCMEndpoint, "fcm-endpoint", env("RCP_FCM_ENDPOINT", ""), "FCM base URL without /v1, for emulators (RCP_FCM_ENDPOINT)")
	fs.StringVar(&p.FCMProject, "fcm-project", env("RCP_FCM_PROJECT", ""), "Firebase project id, default the credentials' (RCP_FCM_PROJECT)")
	fs.StringVar(&p.Preview, "push-preview", env("RCP_PUSH_PREVIEW", string(ackpending.PreviewSender)), "what a notification shows unless the room says: none, sender or text (RCP_PUSH_PREVIEW)")
	fs.DurationVar(&p.PresenceTTL, "presence-ttl", envDuration("RCP_PRESENCE_TTL", ackpending.DefaultPresenceTTL), "a crashed node's sessions count as online this long (RCP_PRESENCE_TTL)")
}

func (p pushConfig) validate() error {
	if p.OfflineGrace <= 0 || p.AckTimeout <= 0 || p.PresenceTTL < time.Second {
		return fmt.Errorf("offline-grace %v, ack-timeout %v, presence-ttl %v: want positive (presence-ttl ≥ 1s)",
			p.OfflineGrace, p.AckTimeout, p.PresenceTTL)
	}
	_, err := ackpending.ParsePreview(p.Preview)
	return err
}

// startPush wires escalation: the rcpesc functions, presence on the STOMP
// handler, SEND /app/devices, the sender (FCM or log) and the escalator.
// It returns the device API for the mux and the escalator, which the
// archiver tells of pending entries past the ledger's max age.
func startPush(bg context.Context, wg *sync.WaitGroup, cfg config, d *deps, h *gateway.STOMPHandler,
	reg prometheus.Registerer, log *slog.Logger) (*gateway.DeviceAPI, *ackpending.Escalator, error) {
	if err := d.broker.LoadLibrary(bg, ackpending.Library); err != nil {
		return nil, nil, err
	}
	sender, how, err := ackpending.NewSender(bg, ackpending.FCMConfig{Credentials: cfg.Push.FCMCredentials,
		ProjectID: cfg.Push.FCMProject, Endpoint: cfg.Push.FCMEndpoint}, log)
	if err != nil {
		return nil, nil, err
	}
	log.Info("push sender", "sender", how, "offline_grace", cfg.Push.OfflineGrace.String(), "ack_timeout", cfg.Push.AckTimeout.String())
	presence := ackpending.NewPresence(d.rdb, ackpending.PresenceConfig{Prefix: cfg.KeyPrefix, TTL: cfg.Push.PresenceTTL, Logger: log})
	devices := ackpending.NewDevices(d.db, d.rdb, ackpending.DevicesConfig{Prefix: cfg.KeyPrefix})
	h.SetPush(presence, devices)
	ecfg := ackpending.DefaultConfig()
	ecfg.Prefix, ecfg.Partitions, ecfg.Logger = cfg.KeyPrefix, cfg.Partitions, log
	ecfg.OfflineGrace, ecfg.AckTimeout, ecfg.Preview = cfg.Push.OfflineGrace, cfg.Push.AckTimeout, ackpending.Preview(cfg.Push.Preview)
	ecfg.Metrics = ackpending.NewMetrics()
	for _, c := range ecfg.Metrics.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, nil, fmt.Errorf("push metrics: %w", err)
		}
	}
	// The escalator has a Redis client of its own: a push storm must not
	// queue the STOMP path behind it in one connection pool.
	escRDB, err := broker.Dial(cfg.RedisURL, cfg.Partitions)
	if err != nil {
		return nil, nil, err
	}
	esc := ackpending.NewEscalator(escRDB, d.db,
		ackpending.NewDevices(d.db, escRDB, ackpending.DevicesConfig{Prefix: cfg.KeyPrefix}), sender, ecfg)
	wg.Add(2)
	go func() { defer wg.Done(); presence.Run(bg) }()
	go func() { defer wg.Done(); esc.Run(bg); escRDB.Close() }()
	return gateway.NewDeviceAPI(devices, d.verifier, log), esc, nil
}
