package main

import (
	"flag"
	"strings"
	"testing"
)

// parse runs parseConfig on a fresh flag set with the RCP_* variables given.
func parse(t *testing.T, env map[string]string, args ...string) (config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	envErrs = nil
	t.Cleanup(func() { envErrs = nil })
	return parseConfig(flag.NewFlagSet("rcpd", flag.ContinueOnError), args)
}

func TestSendRateAndPprofConfig(t *testing.T) {
	for _, c := range []struct {
		name      string
		env       map[string]string
		args      []string
		rate      float64
		burst     int
		pprof     string
		wantError string
	}{
		{name: "defaults", rate: 50, burst: 100},
		{name: "environment", env: map[string]string{"RCP_SEND_RATE": "2500.5", "RCP_SEND_BURST": "400", "RCP_PPROF": "127.0.0.1:6060"},
			rate: 2500.5, burst: 400, pprof: "127.0.0.1:6060"},
		{name: "flags win", env: map[string]string{"RCP_SEND_RATE": "2500"}, args: []string{"--send-rate", "7", "--send-burst", "9"},
			rate: 7, burst: 9},
		{name: "bad variable", env: map[string]string{"RCP_SEND_RATE": "fast"}, wantError: `RCP_SEND_RATE="fast"`},
		{name: "zero rate", args: []string{"--send-rate", "0"}, wantError: "want both positive"},
		{name: "zero burst", args: []string{"--send-burst", "0"}, wantError: "want both positive"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := parse(t, c.env, c.args...)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want %q", err, c.wantError)
				}
				return
			}
			if err != nil || got.SendRate != c.rate || got.SendBurst != c.burst || got.PprofListen != c.pprof {
				t.Fatalf("send-rate %v burst %d pprof %q (%v), want %v %d %q", got.SendRate, got.SendBurst, got.PprofListen, err, c.rate, c.burst, c.pprof)
			}
		})
	}
}
