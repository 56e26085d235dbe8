// Command rcpd is the RCP server: STOMP over WebSocket (and optionally TCP),
// the REST API, health, readiness and metrics. It only reads configuration,
// wires packages together and handles signals.
//
//	rcpd [serve] [flags]     run the server
//	rcpd migrate [flags]     apply the MySQL migrations and exit
//	rcpd archiver [flags]    run only the archiver and retention jobs
//	rcpd token --sub U ...   print an HS256 token signed with RCP_JWT_SECRET
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rcpd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "migrate", "archiver":
		fs := flag.NewFlagSet("rcpd "+cmd, flag.ContinueOnError)
		cfg, err := parseConfig(fs, args)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
		slog.SetDefault(log)
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if cmd == "migrate" {
			return migrate(ctx, cfg)
		}
		if cmd == "archiver" {
			return runArchiver(ctx, cfg, log)
		}
		return serve(ctx, cfg, log)
	case "token":
		return token(args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: rcpd [serve|migrate|archiver|token] [flags]; `rcpd serve -h` lists the flags")
		return nil
	}
	return fmt.Errorf("unknown command %q (serve, migrate, archiver, token)", cmd)
}

func migrate(ctx context.Context, cfg config) error {
	if cfg.MySQLDSN == "" {
		return fmt.Errorf("migrate: RCP_MYSQL_DSN (or --mysql-dsn) is required")
	}
	db, err := queries.Open(ctx, cfg.MySQLDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	return queries.Migrate(ctx, db)
}

// token mints a development or operations token with RCP_JWT_SECRET.
func token(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rcpd token", flag.ContinueOnError)
	sub := fs.String("sub", "", "user id (the token's sub)")
	scope := fs.String("scope", "", "space-separated scopes, e.g. rooms:admin")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime")
	secret := fs.String("jwt-secret", env("RCP_JWT_SECRET", ""), "HS256 secret (RCP_JWT_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		return fmt.Errorf("token: RCP_JWT_SECRET (or --jwt-secret) is required")
	}
	tok, err := gateway.MintHS256([]byte(*secret), *sub, strings.Fields(*scope), *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
