// Command rcpctl is RCP's operations CLI: it reads the Redis keys of
// DESIGN.md (and MySQL for a user's rooms) and prints what operators ask
// about, as aligned text or, with --json, one JSON document.
//
//	rcpctl pending --user U [--room R | --rooms a,b]   entries pending for U
//	rcpctl keys room R                                 every Redis key of room R
//	rcpctl rooms --user U [--rooms a,b]                U's rooms, heads, pending
//
// Connection flags (every command): --redis-url (RCP_REDIS_URL),
// --key-prefix (RCP_KEY_PREFIX), --partitions (RCP_PARTITIONS),
// --mysql-dsn (RCP_MYSQL_DSN), --json. docs/operations.md has examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rcpctl:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage:
  rcpctl pending --user U [--room R | --rooms a,b] [--count N]
  rcpctl keys room R
  rcpctl rooms --user U [--rooms a,b]
  rcpctl archive status
  rcpctl push-test --user U [--room R]
common flags: --redis-url --key-prefix --partitions --mysql-dsn --json
(rcpctl COMMAND -h lists a command's flags)`

// run executes one command with its arguments and prints to stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "pending":
		return runPending(ctx, args, stdout)
	case "keys":
		return runKeys(ctx, args, stdout)
	case "rooms":
		return runRooms(ctx, args, stdout)
	case "archive":
		return runArchive(ctx, args, stdout)
	case "push-test":
		return runPushTest(ctx, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
