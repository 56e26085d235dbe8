package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// report is what one run measured. Counts are SENDs (messages) unless
// named deliveries; latencies are in milliseconds.
type report struct {
	Config config `json:"-"`

	Rooms    int     `json:"rooms"`
	Members  int     `json:"members"`
	Conns    int     `json:"conns"`
	Senders  int     `json:"senders"`
	Rate     float64 `json:"rate"` // offered SENDs/s, 0 = closed loop
	Receipts bool    `json:"receipts"`
	Window   int     `json:"window"`
	Ack      string  `json:"ack"`

	Offered      int64          `json:"offered"`     // SENDs due by the schedule (0 in closed loop)
	Sent         int64          `json:"sent"`        // SENDs written
	Receipted    int64          `json:"receipted"`   // RECEIPTs received
	Unreceipted  int64          `json:"unreceipted"` // sent, no RECEIPT by the end
	Expected     int64          `json:"expectedDeliveries"`
	Delivered    int64          `json:"delivered"`    // first deliveries to subscribed members
	Lost         int64          `json:"lost"`         // deliveries of accepted SENDs missing at the end
	LostMessages int64          `json:"lostMessages"` // accepted SENDs missing at some member
	Duplicates   int64          `json:"duplicates"`
	Unexpected   int64          `json:"unexpected"` // frames naming no message of this run
	Acks         int64          `json:"acks"`
	ConnsClosed  int            `json:"connsClosed"` // closed before the end, or no DISCONNECT receipt
	Errors       map[string]int `json:"errors"`

	SetupSeconds     float64 `json:"setupSeconds"`
	SendSeconds      float64 `json:"sendSeconds"`
	SendsPerSec      float64 `json:"sendsPerSec"`
	DeliveriesPerSec float64 `json:"deliveriesPerSec"` // from the first SEND to the last delivery

	Latency summary `json:"latencyMs"`        // SEND written → MESSAGE read
	Receipt summary `json:"receiptLatencyMs"` // SEND written → RECEIPT read
	Lag     summary `json:"scheduleLagMs"`    // how late SENDs left against the schedule

	Resources *resources       `json:"resources,omitempty"`
	PeakRSS   map[string]int64 `json:"peakRssBytes,omitempty"` // sampled every 20 ms over send and drain
}

func (r *report) fill(c *config, t *tracker, start, end int64, senders int) {
	r.Rooms, r.Members, r.Conns, r.Senders = c.Rooms, c.Members, c.Conns, senders
	r.Rate, r.Receipts, r.Window, r.Ack = c.Rate, c.Receipts, c.Window, c.Ack
	if c.Rate > 0 && c.Duration > 0 {
		r.Offered = min(int64(c.Rate*c.Duration.Seconds()), int64(c.budget()))
	}
	r.Sent, r.Receipted = t.sent.Load(), t.receipted.Load()
	r.Delivered, r.Duplicates = t.delivered.Load(), t.duplicates.Load()
	r.Unexpected, r.Acks = t.unexpected.Load(), t.acks.Load()
	r.countLoss(c, t)
	r.Errors = t.errors
	if end > start {
		r.SendSeconds = time.Duration(end - start).Seconds()
		r.SendsPerSec = float64(r.Sent) / r.SendSeconds
	}
	if last := t.lastDelivery.Load(); last > start && start > 0 {
		r.DeliveriesPerSec = float64(r.Delivered) / time.Duration(last-start).Seconds()
	}
	r.Latency, r.Receipt, r.Lag = t.latency.summary(), t.receiptLatency.summary(), t.lag.summary()
}

// countLoss compares every accepted SEND (receipted, or written when
// receipts are off) with the members subscribed to its room.
func (r *report) countLoss(c *config, t *tracker) {
	for i := range t.used() {
		m := &t.msgs[i]
		if m.sentNs.Load() == 0 {
			continue
		}
		if c.Receipts && !m.receipted.Load() {
			r.Unreceipted++
			continue
		}
		want := int64(t.expected[m.room])
		r.Expected += want
		if miss := want - int64(m.delivered.Load()); miss > 0 {
			r.Lost += miss
			r.LostMessages++
		}
	}
}

func (r *report) print(w io.Writer) error {
	fmt.Fprintf(w, "scenario   %d rooms × %d members, %d connections, %d senders, rate %s, receipts %v, window %d, ack %s\n",
		r.Rooms, r.Members, r.Conns, r.Senders, rateText(r.Rate), r.Receipts, r.Window, r.Ack)
	fmt.Fprintf(w, "sends      offered %d  sent %d  receipted %d  unreceipted %d  (%.0f/s over %.1fs)\n",
		r.Offered, r.Sent, r.Receipted, r.Unreceipted, r.SendsPerSec, r.SendSeconds)
	fmt.Fprintf(w, "deliveries expected %d  delivered %d  lost %d (%d messages)  duplicates %d  unexpected %d  acks %d  (%.0f/s)\n",
		r.Expected, r.Delivered, r.Lost, r.LostMessages, r.Duplicates, r.Unexpected, r.Acks, r.DeliveriesPerSec)
	for _, l := range []struct {
		name string
		s    summary
	}{{"latency", r.Latency}, {"receipt", r.Receipt}, {"lag", r.Lag}} {
		fmt.Fprintf(w, "%-10s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f ms  (n %d)\n",
			l.name, l.s.P50, l.s.P90, l.s.P99, l.s.P999, l.s.Max, l.s.Mean, l.s.Count)
	}
	fmt.Fprintf(w, "setup      %.1fs  connections closed early %d\n", r.SetupSeconds, r.ConnsClosed)
	if r.Resources != nil {
		r.Resources.print(w)
	}
	for _, name := range slices.Sorted(maps.Keys(r.PeakRSS)) {
		fmt.Fprintf(w, "peak rss   %-9s %.1f MiB during send and drain\n", name, float64(r.PeakRSS[name])/(1<<20))
	}
	for _, msg := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(w, "error      %d × %s\n", r.Errors[msg], msg)
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}

func rateText(rate float64) string {
	if rate == 0 {
		return "closed loop"
	}
	return fmt.Sprintf("%g/s", rate)
}
