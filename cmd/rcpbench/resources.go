package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
)

// resources is what the probe saw: memory per connection from the samples
// before connecting and after (the hold), CPU and Redis work over the send
// phase (its start to the end of the drain).
type resources struct {
	RSSBefore    map[string]int64   `json:"rssBeforeConnectBytes"`
	RSSConnected map[string]int64   `json:"rssConnectedBytes"`
	RSSPerConn   map[string]float64 `json:"rssPerConnBytes"`
	CPUSeconds   map[string]float64 `json:"cpuSeconds"`
	RedisCPU     float64            `json:"redisCpuSeconds"`
	RedisCalls   map[string]int64   `json:"redisCalls"` // commandstats deltas, nested calls included
	CallsTotal   int64              `json:"redisCallsTotal"`

	RedisCPUPerDelivery   float64            `json:"redisCpuUsPerDelivery"`
	RedisCallsPerDelivery float64            `json:"redisCallsPerDelivery"`
	CPUPerDelivery        map[string]float64 `json:"cpuUsPerDelivery"`
}

func newResources(before, connected, end sample, conns int, delivered int64) *resources {
	r := &resources{RSSBefore: before.rss, RSSConnected: connected.rss, RSSPerConn: map[string]float64{},
		CPUSeconds: map[string]float64{}, RedisCalls: map[string]int64{}, CPUPerDelivery: map[string]float64{}}
	for name, rss := range connected.rss {
		if conns > 0 {
			r.RSSPerConn[name] = float64(rss-before.rss[name]) / float64(conns)
		}
	}
	for name, cpu := range end.cpu {
		r.CPUSeconds[name] = cpu - connected.cpu[name]
		if delivered > 0 {
			r.CPUPerDelivery[name] = r.CPUSeconds[name] * 1e6 / float64(delivered)
		}
	}
	r.RedisCPU = end.redisCPU - connected.redisCPU
	for cmd, n := range end.calls {
		if d := n - connected.calls[cmd]; d > 0 {
			r.RedisCalls[cmd] = d
			r.CallsTotal += d
		}
	}
	if delivered > 0 {
		r.RedisCPUPerDelivery = r.RedisCPU * 1e6 / float64(delivered)
		r.RedisCallsPerDelivery = float64(r.CallsTotal) / float64(delivered)
	}
	return r
}

func (r *resources) print(w io.Writer) {
	for _, name := range slices.Sorted(maps.Keys(r.RSSConnected)) {
		fmt.Fprintf(w, "memory     %-9s rss %.1f MiB → %.1f MiB  (%.0f bytes per connection)\n", name,
			float64(r.RSSBefore[name])/(1<<20), float64(r.RSSConnected[name])/(1<<20), r.RSSPerConn[name])
	}
	for _, name := range slices.Sorted(maps.Keys(r.CPUSeconds)) {
		fmt.Fprintf(w, "cpu        %-9s %.2f s  (%.1f µs per delivery)\n", name, r.CPUSeconds[name], r.CPUPerDelivery[name])
	}
	if r.CallsTotal == 0 {
		return
	}
	fmt.Fprintf(w, "redis      used_cpu %.2f s (%.2f µs per delivery)  calls %d (%.2f per delivery)\n",
		r.RedisCPU, r.RedisCPUPerDelivery, r.CallsTotal, r.RedisCallsPerDelivery)
	cmds := slices.SortedFunc(maps.Keys(r.RedisCalls), func(a, b string) int { return int(r.RedisCalls[b] - r.RedisCalls[a]) })
	for _, cmd := range cmds {
		fmt.Fprintf(w, "redis      %-22s %d\n", cmd, r.RedisCalls[cmd])
	}
}
