package ackpending_test

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
)

// metricValue sums the samples of a metric family whose labels include
// the given pairs.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue metrics
				}
			}
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
			if h := m.GetHistogram(); h != nil {
				sum += float64(h.GetSampleCount())
			}
		}
	}
	return sum
}

func withMetrics(cfg *ackpending.Config) *prometheus.Registry {
	cfg.Metrics = ackpending.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cfg.Metrics.Collectors()...)
	return reg
}

func TestOfflineMembersGetOneCollapsedPushPerRoom(t *testing.T) {
	const grace = time.Second
	e := newEnv(t, grace, 4)
	e.room("r1", "alice", "bob", "carol")
	e.device("bob", "tok-bob")
	e.device("carol", "tok-carol")
	reg := withMetrics(&e.cfg)
	e.start(e.cfg)

	first := time.Now()
	var ids []string
	for i := 1; i <= 3; i++ {
		ids = append(ids, e.send("r1", "alice", "hello "+itoa(i)).ID)
	}
	got := e.emu.WaitAccepted(t, 2, 5*time.Second)
	for _, tok := range []string{"tok-bob", "tok-carol"} {
		rs := forToken(got, tok)
		if len(rs) != 1 {
			t.Fatalf("%s got %d pushes, want 1", tok, len(rs))
		}
		m := rs[0].Message
		want := map[string]string{"kind": "rcp.messages", "room": "r1", "newest": ids[2], "seq": "3",
			"count": "3", "new": "3", "sender": "alice"}
		if !mapsEqual(m.Data, want) {
			t.Fatalf("%s data %v, want %v", tok, m.Data, want)
		}
		if m.Notification.Title != "alice" || m.Notification.Body != "3 new messages" {
			t.Fatalf("notification %+v", m.Notification)
		}
		if m.Android.CollapseKey != "r1" || m.Android.Priority != "high" || m.Android.TTL != "86400s" {
			t.Fatalf("android %+v", m.Android)
		}
		if lag := rs[0].At.Sub(first); lag < grace || lag > grace+time.Second {
			t.Fatalf("%s pushed %v after the first send, want within [grace, grace+1s]", tok, lag)
		}
		if rs[0].Project != fcmtest.Project {
			t.Fatalf("project %q", rs[0].Project)
		}
	}
	for _, u := range []string{"bob", "carol"} {
		e.waitDeliveries("r1", u, 2, 2, 2)
	}
	if p := e.pending("r1", "alice"); len(p) != 0 {
		t.Fatalf("sender has pending %v", p)
	}

	// Nothing pushable is left: no second push, and the room leaves the
	// schedule.
	time.Sleep(grace + 500*time.Millisecond)
	if n := len(e.emu.Requests()); n != 2 {
		t.Fatalf("%d requests after the pushes, want 2", n)
	}
	if s := e.dueScore("r1"); s != -1 {
		t.Fatalf("room still scheduled at %d", s)
	}

	// A new message: one more push announcing it, counting all pending.
	id4 := e.send("r1", "carol", "again").ID
	got = e.emu.WaitAccepted(t, 3, 5*time.Second)
	rs := forToken(got, "tok-bob")
	if len(rs) != 2 || rs[1].Message.Data["count"] != "4" || rs[1].Message.Data["new"] != "1" ||
		rs[1].Message.Data["newest"] != id4 || rs[1].Message.Data["sender"] != "carol" {
		t.Fatalf("second push to bob: %+v", rs)
	}
	time.Sleep(grace)
	if rs := forToken(e.emu.Requests(), "tok-carol"); len(rs) != 1 {
		t.Fatalf("carol sent the 4th and had only pushed entries pending: %d pushes, want 1", len(rs))
	}
	e.waitDeliveries("r1", "bob", 2, 2, 2, 2)
	if v := metricValue(t, reg, "rcp_push_sent_total"); v != 3 {
		t.Fatalf("rcp_push_sent_total %v, want 3", v)
	}
	if v := metricValue(t, reg, "rcp_escalation_lag_seconds"); v != 3 {
		t.Fatalf("rcp_escalation_lag_seconds count %v, want 3", v)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestMemberWithoutDevicesIsPassedOver(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond, 4)
	e.room("r1", "alice", "bob")
	e.start(e.cfg)
	id := e.send("r1", "alice", "hi").ID
	time.Sleep(1500 * time.Millisecond)
	if n := len(e.emu.Requests()); n != 0 {
		t.Fatalf("%d requests for a member without devices", n)
	}
	if d := e.deliveries("r1", "bob"); !slices.Equal(d, []int64{1}) {
		t.Fatalf("delivery counts %v, want [1] (never pushed)", d)
	}
	if s := e.dueScore("r1"); s != -1 {
		t.Fatalf("room still scheduled at %d", s)
	}
	cur, err := e.rdb.HGet(t.Context(), ackpending.PushedKey(e.b.KeysFor("r1"), "r1"), "bob").Result()
	if err != nil || cur != id {
		t.Fatalf("pushed cursor %q %v, want %s", cur, err, id)
	}
}

func TestTrimmedEntryIsAnnouncedAndDropped(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond, 4)
	e.room("r1", "alice", "bob")
	e.device("bob", "tok-bob")
	first := e.send("r1", "alice", "old").ID
	second := e.send("r1", "alice", "new").ID
	if err := e.rdb.XDel(t.Context(), e.b.KeysFor("r1").Room("r1"), first).Err(); err != nil {
		t.Fatal(err)
	}
	e.start(e.cfg)
	got := e.emu.WaitAccepted(t, 1, 5*time.Second)
	if d := got[0].Message.Data; d["count"] != "2" || d["new"] != "2" || d["newest"] != second {
		t.Fatalf("data %v", d)
	}
	// XCLAIM drops the PEL entry of the trimmed stream entry (DESIGN).
	e.waitDeliveries("r1", "bob", 2)
	if ps := e.pending("r1", "bob"); ps[0].ID != second {
		t.Fatalf("pending %+v, want only %s", ps, second)
	}
}
