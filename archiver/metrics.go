package archiver

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the archiver's and the retention jobs' Prometheus collectors.
type Metrics struct {
	rows      prometheus.Counter
	read      prometheus.Counter
	trimmed   prometheus.Counter
	expired   prometheus.Counter
	errors    *prometheus.CounterVec
	batch     prometheus.Histogram
	lag       *prometheus.GaugeVec
	held      *prometheus.GaugeVec
	lastPass  *prometheus.GaugeVec
	deleted   *prometheus.CounterVec
	roomsGone prometheus.Counter
}

// NewMetrics registers the collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	part := []string{"partition"}
	m := &Metrics{
		rows: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcp_archiver_rows_total",
			Help: "Stream entries inserted into MySQL (duplicates of earlier passes not counted)."}),
		read: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcp_archiver_entries_read_total",
			Help: "Stream entries read for archiving."}),
		trimmed: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcp_archiver_trimmed_total",
			Help: "Stream entries removed from Redis by XTRIM MINID after archiving."}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcp_archiver_expired_acks_total",
			Help: "Pending entries older than the ledger's max age escalated and acknowledged."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rcp_archiver_errors_total",
			Help: "Failed archive or retention steps by stage."}, []string{"stage"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rcp_archiver_batch_seconds",
			Help: "Time to read, insert and trim one batch.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rcp_archiver_lag_seconds",
			Help: "Age past the hot window of the oldest entry still due for archiving after the last pass."}, part),
		held: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rcp_archiver_held_rooms",
			Help: "Rooms whose trim waits for pending entries younger than the max age, last pass."}, part),
		lastPass: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rcp_archiver_last_pass_timestamp_seconds",
			Help: "End of the last complete archive pass of the partition on this node."}, part),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rcp_retention_deleted_rows_total",
			Help: "MySQL message rows deleted by retention, by reason (text, media, expired)."}, []string{"reason"}),
		roomsGone: prometheus.NewCounter(prometheus.CounterOpts{Name: "rcp_retention_rooms_expired_total",
			Help: "Closed O2O rooms deleted after their expiry."}),
	}
	reg.MustRegister(m.rows, m.read, m.trimmed, m.expired, m.errors, m.batch, m.lag, m.held, m.lastPass,
		m.deleted, m.roomsGone)
	return m
}

// The methods accept a nil *Metrics: the archiver runs without metrics too.

func (m *Metrics) pass(p int, st PassStats, endUnix float64) {
	if m == nil {
		return
	}
	l := strconv.Itoa(p)
	m.lag.WithLabelValues(l).Set(float64(st.LagMs) / 1000)
	m.held.WithLabelValues(l).Set(float64(st.Held))
	if st.Err == nil {
		m.lastPass.WithLabelValues(l).Set(endUnix)
	}
}

func (m *Metrics) batchDone(read, rows, trimmed, expired int64, seconds float64) {
	if m == nil {
		return
	}
	m.read.Add(float64(read))
	m.rows.Add(float64(rows))
	m.trimmed.Add(float64(trimmed))
	m.expired.Add(float64(expired))
	m.batch.Observe(seconds)
}

func (m *Metrics) failed(stage string) {
	if m != nil {
		m.errors.WithLabelValues(stage).Inc()
	}
}

func (m *Metrics) deletedRows(reason string, n int64) {
	if m != nil && n > 0 {
		m.deleted.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *Metrics) roomExpired() {
	if m != nil {
		m.roomsGone.Inc()
	}
}
