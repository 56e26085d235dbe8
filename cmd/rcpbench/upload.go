package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcp/rcp/gateway"
)

// uploadReport is what an --uploads run measured.
type uploadReport struct {
	Uploaders  int            `json:"uploaders"`
	ImageBytes int            `json:"imageBytes"`
	Seconds    float64        `json:"seconds"`
	OK         int64          `json:"ok"`
	Failed     map[string]int `json:"failed"` // by status or error
	MBPerSec   float64        `json:"mbPerSec"`
	PerSec     float64        `json:"uploadsPerSec"`
	Latency    summary        `json:"latencyMs"` // request written → 201 read
	// PeakRSS is the highest RSS sampled every 20 ms during the run; RSSBefore
	// the RSS before it. CPUSeconds covers the run.
	RSSBefore  map[string]int64   `json:"rssBeforeBytes"`
	PeakRSS    map[string]int64   `json:"peakRssBytes"`
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
}

// runUploads is --uploads: each uploader (a member of a room of its own)
// POSTs the image to /v1/uploads in a loop for --duration.
func runUploads(ctx context.Context, c *config, stdout io.Writer) error {
	p, err := newProbe(ctx, c.RedisURL, c.Pids)
	if err != nil {
		return err
	}
	defer p.close()
	if err := createRooms(ctx, c); err != nil {
		return err
	}
	before, err := p.take(ctx)
	if err != nil {
		return err
	}
	peak, stopPeak := samplePeakRSS(p)
	rep := uploadLoops(ctx, c)
	stopPeak()
	after, err := p.take(ctx)
	if err != nil {
		return err
	}
	rep.RSSBefore, rep.PeakRSS, rep.CPUSeconds = before.rss, peak, map[string]float64{}
	for name, cpu := range after.cpu {
		rep.CPUSeconds[name] = cpu - before.cpu[name]
	}
	return rep.print(stdout)
}

func uploadLoops(ctx context.Context, c *config) *uploadReport {
	rep := &uploadReport{Uploaders: c.Uploads, ImageBytes: len(c.images.raw), Failed: map[string]int{}}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: c.Uploads}}
	var (
		mu   sync.Mutex
		lat  histogram
		ok   atomic.Int64
		wg   sync.WaitGroup
		t0   = time.Now()
		stop = t0.Add(c.Duration)
	)
	for u := range c.Uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _ := gateway.MintHS256([]byte(c.Secret), c.userID(u, 0), nil, time.Hour)
			for time.Now().Before(stop) && ctx.Err() == nil {
				start := time.Now()
				err := uploadOnce(ctx, hc, c, tok, c.roomID(u))
				mu.Lock()
				if err != nil {
					rep.Failed[err.Error()]++
				} else {
					lat.record(time.Since(start))
					ok.Add(1)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(t0).Seconds()
	rep.OK = ok.Load()
	rep.PerSec = float64(rep.OK) / rep.Seconds
	rep.MBPerSec = rep.PerSec * float64(rep.ImageBytes) / 1e6
	rep.Latency = lat.summary()
	return rep
}

func uploadOnce(ctx context.Context, hc *http.Client, c *config, tok, room string) error {
	u := c.API + "/v1/uploads?room=" + url.QueryEscape(room) + "&name=bench.png"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(c.images.raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "image/png")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("transport error")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// samplePeakRSS samples the probe's processes every 20 ms until stopped and
// keeps each one's highest RSS.
func samplePeakRSS(p *probe) (map[string]int64, func()) {
	peak := map[string]int64{}
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			for name, pid := range p.pids {
				if _, rss, err := procStat(pid); err == nil && rss > peak[name] {
					peak[name] = rss
				}
			}
			select {
			case <-done:
				return
			case <-tk.C:
			}
		}
	}()
	return peak, func() { close(done); <-exited }
}

func (r *uploadReport) print(w io.Writer) error {
	fmt.Fprintf(w, "uploads    %d uploaders × %d-byte images for %.1fs: %d ok (%.1f/s, %.1f MB/s), failed %v\n",
		r.Uploaders, r.ImageBytes, r.Seconds, r.OK, r.PerSec, r.MBPerSec, r.Failed)
	fmt.Fprintf(w, "latency    p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	for _, name := range slices.Sorted(maps.Keys(r.PeakRSS)) {
		peak := r.PeakRSS[name]
		fmt.Fprintf(w, "memory     %-9s rss before %.1f MiB, peak %.1f MiB; cpu %.2f s\n", name,
			float64(r.RSSBefore[name])/(1<<20), float64(peak)/(1<<20), r.CPUSeconds[name])
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", line)
	return err
}
