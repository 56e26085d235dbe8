package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// probe samples the resources the report divides by the work done: CPU
// seconds and RSS of named processes (/proc/<pid>/stat and status), and
// Redis's own CPU and command counts (INFO cpu, commandstats). It is
// optional: without --redis-url and --pids the report has no resources.
type probe struct {
	rdb  *redis.Client
	pids map[string]int
}

// sample is one reading of the probe.
type sample struct {
	cpu      map[string]float64 // process → CPU seconds (user + system)
	rss      map[string]int64   // process → resident bytes
	redisCPU float64            // used_cpu_user + used_cpu_sys
	calls    map[string]int64   // command → calls
}

func newProbe(ctx context.Context, redisURL, pids string) (*probe, error) {
	p := &probe{pids: map[string]int{"rcpbench": os.Getpid()}}
	for _, kv := range splitNonEmpty(pids) {
		name, v, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil {
			return nil, fmt.Errorf("--pids %q: want name=pid,…", kv)
		}
		p.pids[name] = pid
	}
	if redisURL == "" {
		return p, nil
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url %q: %w", redisURL, err)
	}
	p.rdb = redis.NewClient(opt)
	info, err := p.info(ctx, "server")
	if err != nil {
		return nil, err
	}
	if pid, err := strconv.Atoi(info["process_id"]); err == nil {
		p.pids["redis"] = pid
	}
	return p, nil
}

func (p *probe) close() {
	if p.rdb != nil {
		p.rdb.Close()
	}
}

func (p *probe) take(ctx context.Context) (sample, error) {
	s := sample{cpu: map[string]float64{}, rss: map[string]int64{}, calls: map[string]int64{}}
	for name, pid := range p.pids {
		cpu, rss, err := procStat(pid)
		if err != nil {
			return s, err
		}
		s.cpu[name], s.rss[name] = cpu, rss
	}
	if p.rdb == nil {
		return s, nil
	}
	info, err := p.info(ctx, "cpu", "commandstats")
	if err != nil {
		return s, err
	}
	user, _ := strconv.ParseFloat(info["used_cpu_user"], 64)
	sys, _ := strconv.ParseFloat(info["used_cpu_sys"], 64)
	s.redisCPU = user + sys
	for k, v := range info {
		if cmd, ok := strings.CutPrefix(k, "cmdstat_"); ok {
			calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
			s.calls[cmd], _ = strconv.ParseInt(calls, 10, 64)
		}
	}
	return s, nil
}

// info returns INFO's key:value lines.
func (p *probe) info(ctx context.Context, sections ...string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	txt, err := p.rdb.Info(ctx, sections...).Result()
	if err != nil {
		return nil, fmt.Errorf("redis info: %w", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(txt))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok {
			out[k] = v
		}
	}
	return out, nil
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat
// (100 on every Linux port that matters).
const clockTicks = 100

// procStat reads a process's CPU seconds and resident set size.
func procStat(pid int) (cpu float64, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("cpu of pid %d: short /proc stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	return float64(utime+stime) / clockTicks, pages * int64(os.Getpagesize()), nil
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
