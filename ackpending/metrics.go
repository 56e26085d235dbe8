package ackpending

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are escalation's Prometheus collectors; cmd/rcpd registers
// Collectors() on the metrics registry.
type Metrics struct {
	sent     prometheus.Counter
	failed   *prometheus.CounterVec
	removed  prometheus.Counter
	notified prometheus.Counter
	rooms    prometheus.Counter
	swept    prometheus.Counter
	lag      prometheus.Histogram
	claimLag prometheus.Histogram
}

// NewMetrics creates the collectors (unregistered).
func NewMetrics() *Metrics {
	buckets := []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300}
	return &Metrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcp_push_sent_total", Help: "Notifications FCM accepted (one per device).",
		}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rcp_push_failed_total", Help: "Failed push attempts by reason.",
		}, []string{"reason"}),
		removed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcp_push_tokens_removed_total", Help: "Device tokens removed after UNREGISTERED or INVALID_ARGUMENT.",
		}),
		notified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcp_push_notified_total", Help: "(user, room) notifications recorded in the ledger (XCLAIM bump).",
		}),
		rooms: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcp_escalation_rooms_total", Help: "Room passes of the escalator.",
		}),
		swept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rcp_escalation_rooms_swept_total",
			Help: "Claimed rooms settled without a pass: nobody had a pending entry, or none old enough to be due.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rcp_escalation_lag_seconds",
			Help:    "From the moment a (user, room) became due (delivery + offline grace or ack timeout) to FCM's acceptance.",
			Buckets: buckets,
		}),
		claimLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rcp_escalation_claim_lag_seconds",
			Help:    "From a room's scheduled time to its claim by an escalator.",
			Buckets: buckets,
		}),
	}
}

// Collectors lists the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.sent, m.failed, m.removed, m.notified, m.rooms, m.swept, m.lag, m.claimLag}
}

func (m *Metrics) observeLag(h prometheus.Histogram, d time.Duration) {
	h.Observe(max(d, 0).Seconds())
}
