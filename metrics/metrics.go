// Package metrics owns rcpd's Prometheus collectors: connections, frames and
// errors of the STOMP layer, registered on a registry of their own.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of collectors rcpd exports on /metrics.
type Metrics struct {
	Registry    *prometheus.Registry
	connections *prometheus.GaugeVec
	accepted    *prometheus.CounterVec
	framesIn    *prometheus.CounterVec
	framesOut   *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

// New registers the collectors, plus the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		connections: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rcp_stomp_connections", Help: "Open STOMP sessions by transport.",
		}, []string{"transport"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rcp_stomp_connections_total", Help: "STOMP sessions accepted by transport.",
		}, []string{"transport"}),
		framesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rcp_stomp_frames_in_total", Help: "Frames received by command.",
		}, []string{"command"}),
		framesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rcp_stomp_frames_out_total", Help: "Frames queued for sending by command.",
		}, []string{"command"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rcp_stomp_errors_total", Help: "Sessions ended or refused, by reason.",
		}, []string{"reason"}),
	}
	m.Registry.MustRegister(m.connections, m.accepted, m.framesIn, m.framesOut, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// STOMP returns the stomp.Observer view of the collectors.
func (m *Metrics) STOMP() *STOMPObserver { return &STOMPObserver{m} }

// STOMPObserver implements stomp.Observer.
type STOMPObserver struct{ m *Metrics }

// ConnOpened counts a new session.
func (o *STOMPObserver) ConnOpened(transport string) {
	o.m.connections.WithLabelValues(transport).Inc()
	o.m.accepted.WithLabelValues(transport).Inc()
}

// ConnClosed counts an ended session.
func (o *STOMPObserver) ConnClosed(transport string) {
	o.m.connections.WithLabelValues(transport).Dec()
}

// FrameIn counts a received frame.
func (o *STOMPObserver) FrameIn(cmd string) { o.m.framesIn.WithLabelValues(cmd).Inc() }

// FrameOut counts a queued frame.
func (o *STOMPObserver) FrameOut(cmd string) { o.m.framesOut.WithLabelValues(cmd).Inc() }

// Error counts an ERROR or refusal by reason.
func (o *STOMPObserver) Error(reason string) { o.m.errors.WithLabelValues(reason).Inc() }
