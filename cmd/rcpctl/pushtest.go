package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/broker"
)

// pushTestResult is one device's outcome of `rcpctl push-test`.
type pushTestResult struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
	Result   string `json:"result"` // accepted, gone, failed
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
}

// runPushTest is `rcpctl push-test --user U [--room R]`: one test
// notification to every device of U (from the Redis cache or MySQL),
// through the sender rcpd would use (RCP_FCM_CREDENTIALS, RCP_FCM_ENDPOINT,
// RCP_FCM_PROJECT; "log" or no credentials: logged only). rcpctl only
// reads: a token FCM reports gone is shown, and rcpd removes it on its
// next push.
func runPushTest(ctx context.Context, args []string, stdout io.Writer) error {
	var c common
	fs := flag.NewFlagSet("rcpctl push-test", flag.ContinueOnError)
	c.register(fs)
	user := fs.String("user", "", "user whose devices get the test notification")
	room := fs.String("room", "push-test", "room id the notification names")
	var fcm ackpending.FCMConfig
	fs.StringVar(&fcm.Credentials, "fcm-credentials", envOr("RCP_FCM_CREDENTIALS", ""), "service-account JSON; empty = ADC, \"log\" = log only (RCP_FCM_CREDENTIALS)")
	fs.StringVar(&fcm.Endpoint, "fcm-endpoint", envOr("RCP_FCM_ENDPOINT", ""), "FCM base URL without /v1 (RCP_FCM_ENDPOINT)")
	fs.StringVar(&fcm.ProjectID, "fcm-project", envOr("RCP_FCM_PROJECT", ""), "Firebase project id (RCP_FCM_PROJECT)")
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if !broker.ValidID(*user) || !broker.ValidID(*room) {
		return fmt.Errorf("usage: rcpctl push-test --user U [--room R]: invalid user or room id")
	}
	b, closeRedis, err := c.open()
	if err != nil {
		return err
	}
	defer closeRedis()
	db, err := c.openMySQL(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sender, how, err := ackpending.NewSender(ctx, fcm, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	devs, err := ackpending.NewDevices(db, b.Redis(), ackpending.DevicesConfig{Prefix: c.prefix}).Tokens(ctx, []string{*user})
	if err != nil {
		return err
	}
	n := ackpending.Notification{User: *user, Room: *room, NewestID: "0-0", Count: 1, New: 1,
		Preview: ackpending.PreviewNone, Title: "RCP test", Body: "Push notifications work."}
	results := make([]pushTestResult, 0, len(devs[*user]))
	for _, d := range devs[*user] {
		results = append(results, pushOne(ctx, sender, d, n))
	}
	return printPushTest(stdout, c.json, *user, how, results)
}

func pushOne(ctx context.Context, s ackpending.Sender, d ackpending.Device, n ackpending.Notification) pushTestResult {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := pushTestResult{Token: d.Token, Platform: d.Platform, Result: "accepted"}
	err := s.Send(ctx, d.Token, n)
	if err == nil {
		return r
	}
	r.Result, r.Error = "failed", err.Error()
	var pe *ackpending.PushError
	if errors.As(err, &pe) {
		r.Reason = pe.Reason
	}
	if errors.Is(err, ackpending.ErrTokenGone) {
		r.Result = "gone"
	}
	return r
}

func printPushTest(w io.Writer, asJSON bool, user, sender string, rs []pushTestResult) error {
	if asJSON {
		return writeJSON(w, map[string]any{"user": user, "sender": sender, "devices": rs})
	}
	fmt.Fprintf(w, "sender: %s\n", sender)
	if len(rs) == 0 {
		fmt.Fprintf(w, "%s has no registered devices\n", user)
		return nil
	}
	t := newTable(w, "TOKEN", "PLATFORM", "RESULT", "REASON")
	for _, r := range rs {
		t.row(r.Token, r.Platform, r.Result, orDash(r.Reason))
	}
	return t.flush()
}
