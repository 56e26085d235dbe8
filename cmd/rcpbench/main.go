// Command rcpbench is RCP's load generator: it creates rooms through the
// REST API, opens STOMP-over-WebSocket connections for their members, sends
// text messages at an offered rate (open loop) or as fast as a window of
// unreceipted SENDs allows, and reports what was sent, receipted, delivered,
// lost and duplicated, with end-to-end latency percentiles. Senders and
// receivers share one process, so one monotonic clock times both ends.
// docs/benchmarks.md has the scenarios and figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rcpbench:", err)
		}
		os.Exit(1)
	}
}
