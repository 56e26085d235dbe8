package ackpending_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
)

// TestUnavailableWithRetryAfterIsRetriedAfterTheDelay: FCM answers 503 with
// Retry-After: 2, then 200. The SDK retries 503 itself, honouring the
// header: one notification, sent again no sooner than 2 s later.
func TestUnavailableWithRetryAfterIsRetriedAfterTheDelay(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond, 4)
	e.room("r1", "alice", "bob")
	e.device("bob", "tok-bob")
	reg := withMetrics(&e.cfg)
	e.emu.Script(fcmtest.Reply{Status: 503, Code: "UNAVAILABLE", RetryAfter: "2"})
	e.start(e.cfg)
	id := e.send("r1", "alice", "hi").ID

	e.emu.WaitAccepted(t, 1, 10*time.Second)
	rs := e.emu.Requests()
	if len(rs) != 2 || rs[0].Status != 503 || rs[1].Status != 200 {
		t.Fatalf("requests %+v, want 503 then 200", rs)
	}
	if gap := rs[1].At.Sub(rs[0].At); gap < 2*time.Second || gap > 3*time.Second {
		t.Fatalf("retried after %v, want Retry-After 2s (+ < 1s)", gap)
	}
	if rs[1].Message.Data["newest"] != id {
		t.Fatalf("retried push %v", rs[1].Message.Data)
	}
	e.waitDeliveries("r1", "bob", 2)
	time.Sleep(time.Second)
	if n := len(e.emu.Requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	// The SDK absorbed the 503: our layer saw no failure.
	if v := metricValue(t, reg, "rcp_push_failed_total"); v != 0 {
		t.Fatalf("failures counted %v", v)
	}
}

// TestInternalAndQuotaErrorsAreRetriedByTheEscalator: the SDK does not
// retry 500 and 429; the escalator does, with backoff, honouring
// Retry-After.
func TestInternalAndQuotaErrorsAreRetriedByTheEscalator(t *testing.T) {
	for _, tc := range []struct {
		code, reason, retryAfter string
		minGap                   time.Duration
	}{
		{"INTERNAL", "internal", "", 400 * time.Millisecond},       // backoff 500 ms ± 20 %
		{"QUOTA_EXCEEDED", "quota_exceeded", "2", 2 * time.Second}, // Retry-After wins
	} {
		t.Run(tc.code, func(t *testing.T) {
			e := newEnv(t, 500*time.Millisecond, 4)
			e.room("r1", "alice", "bob")
			e.device("bob", "tok-bob")
			reg := withMetrics(&e.cfg)
			r := fcmtest.Error(tc.code)
			r.RetryAfter = tc.retryAfter
			e.emu.Script(r)
			e.start(e.cfg)
			e.send("r1", "alice", "hi")
			e.emu.WaitAccepted(t, 1, 10*time.Second)
			rs := e.emu.Requests()
			if len(rs) != 2 || rs[0].Status != r.Status {
				t.Fatalf("requests %+v", rs)
			}
			if gap := rs[1].At.Sub(rs[0].At); gap < tc.minGap || gap > tc.minGap+1500*time.Millisecond {
				t.Fatalf("retried after %v, want about %v", gap, tc.minGap)
			}
			e.waitDeliveries("r1", "bob", 2)
			if v := metricValue(t, reg, "rcp_push_failed_total", "reason", tc.reason); v != 1 {
				t.Fatalf("failures{reason=%s} = %v, want 1", tc.reason, v)
			}
		})
	}
}

// TestGoneTokensAreRemoved: UNREGISTERED and INVALID_ARGUMENT remove the
// token from MySQL and from the Redis cache; the user's other device still
// gets the push, which counts as the push.
func TestGoneTokensAreRemoved(t *testing.T) {
	for _, code := range []string{"UNREGISTERED", "INVALID_ARGUMENT"} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, 500*time.Millisecond, 4)
			e.room("r1", "alice", "bob")
			e.device("bob", "tok-good")
			e.device("bob", "tok-gone")
			reg := withMetrics(&e.cfg)
			e.emu.ReplyTo("tok-gone", fcmtest.Error(code))
			e.start(e.cfg)
			e.send("r1", "alice", "hi")
			e.emu.WaitAccepted(t, 1, 5*time.Second)
			e.waitDeliveries("r1", "bob", 2)
			assertTokenGone(t, e, "bob", "tok-gone")
			if _, err := e.q.GetDevice(t.Context(), "tok-good"); err != nil {
				t.Fatalf("good token: %v", err)
			}
			if rs := forToken(e.emu.Requests(), "tok-gone"); len(rs) != 1 {
				t.Fatalf("gone token tried %d times, want 1", len(rs))
			}
			if v := metricValue(t, reg, "rcp_push_tokens_removed_total"); v != 1 {
				t.Fatalf("removed %v", v)
			}
		})
	}
}

func assertTokenGone(t *testing.T, e *env, user, token string) {
	t.Helper()
	if _, err := e.q.GetDevice(t.Context(), token); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("token %s still in MySQL: %v", token, err)
	}
	in, err := e.rdb.HExists(t.Context(), ackpending.DevicesKey(e.prefix, user), token).Result()
	if err != nil || in {
		t.Fatalf("token %s still in the Redis cache: %v %v", token, in, err)
	}
	devs, err := e.devices.Tokens(t.Context(), []string{user})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs[user] {
		if d.Token == token {
			t.Fatalf("Tokens still lists %s", token)
		}
	}
}

// TestOnlyDeviceUnregistered: the push reached no one, so the entries stay
// unpushed (count 1); a device registered later gets the next message's
// push, counting everything pending.
func TestOnlyDeviceUnregistered(t *testing.T) {
	e := newEnv(t, 500*time.Millisecond, 4)
	e.room("r1", "alice", "bob")
	e.device("bob", "tok-old")
	e.emu.ReplyTo("tok-old", fcmtest.Error("UNREGISTERED"))
	e.start(e.cfg)
	e.send("r1", "alice", "one")
	e.emu.WaitFor(t, 5*time.Second, "the 404", func(rs []fcmtest.Request) bool { return len(rs) == 1 && rs[0].Status == 404 })
	time.Sleep(time.Second)
	assertTokenGone(t, e, "bob", "tok-old")
	if d := e.deliveries("r1", "bob"); len(d) != 1 || d[0] != 1 {
		t.Fatalf("delivery counts %v, want [1]", d)
	}
	e.device("bob", "tok-new")
	id := e.send("r1", "alice", "two").ID
	got := e.emu.WaitAccepted(t, 1, 5*time.Second)
	if d := got[0].Message.Data; got[0].Message.Token != "tok-new" || d["count"] != "2" || d["new"] != "1" || d["newest"] != id {
		t.Fatalf("push %+v", got[0].Message)
	}
	e.waitDeliveries("r1", "bob", 1, 2)
}

// TestConfigErrorsPauseInsteadOfLooping: SENDER_ID_MISMATCH and auth
// errors are logged loudly and pause pushes; nothing is retried in a loop,
// and the push goes out once the pause is over and FCM accepts again.
func TestConfigErrorsPauseInsteadOfLooping(t *testing.T) {
	for _, tc := range []struct{ code, reason string }{
		{"SENDER_ID_MISMATCH", "sender_id_mismatch"},
		{"PERMISSION_DENIED", "auth"},
		{"UNAUTHENTICATED", "auth"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			e := newEnv(t, 300*time.Millisecond, 4)
			e.room("r1", "alice", "bob")
			e.device("bob", "tok-bob")
			reg := withMetrics(&e.cfg)
			e.cfg.ConfigPause = 2 * time.Second
			e.emu.SetDefault(fcmtest.Error(tc.code))
			e.start(e.cfg)
			e.send("r1", "alice", "hi")
			e.emu.WaitFor(t, 5*time.Second, "the refusal", func(rs []fcmtest.Request) bool { return len(rs) == 1 })
			time.Sleep(1500 * time.Millisecond)
			if rs := e.emu.Requests(); len(rs) != 1 {
				t.Fatalf("%d requests during the pause, want 1", len(rs))
			}
			if d := e.deliveries("r1", "bob"); len(d) != 1 || d[0] != 1 {
				t.Fatalf("delivery counts %v, want [1]", d)
			}
			e.emu.SetDefault(fcmtest.Reply{})
			got := e.emu.WaitAccepted(t, 1, 5*time.Second)
			first := e.emu.Requests()[0].At
			if gap := got[0].At.Sub(first); gap < 2*time.Second {
				t.Fatalf("pushed again %v after the refusal, want after the 2s pause", gap)
			}
			e.waitDeliveries("r1", "bob", 2)
			if v := metricValue(t, reg, "rcp_push_failed_total", "reason", tc.reason); v != 1 {
				t.Fatalf("failures{reason=%s} = %v, want 1", tc.reason, v)
			}
		})
	}
}

// TestTokenEndpointFailureIsAConfigError: a service account the token
// endpoint refuses (invalid_grant) is an auth error, after the SDK's own
// retries of what it sees as a transport error.
func TestTokenEndpointFailureIsAConfigError(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	other := fcmtest.New(t) // its key is unknown to e.emu
	raw, err := os.ReadFile(other.ServiceAccountFile(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var sa map[string]string
	if err := json.Unmarshal(raw, &sa); err != nil {
		t.Fatal(err)
	}
	sa["token_uri"] = e.emu.URL + "/token"
	raw, _ = json.Marshal(sa)
	path := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := ackpending.NewFCMSender(ctx, ackpending.FCMConfig{Credentials: path, Endpoint: e.emu.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(ctx, "tok", ackpending.Notification{Room: "r1"})
	var pe *ackpending.PushError
	if !errors.As(err, &pe) || !errors.Is(err, ackpending.ErrConfig) || pe.Reason != "auth" {
		t.Fatalf("err %v, want a config error with reason auth", err)
	}
	if n := len(e.emu.Requests()); n != 0 || e.emu.Grants() != 0 {
		t.Fatalf("%d sends, %d grants: want none", n, e.emu.Grants())
	}
	t.Logf("refused credentials reported after %v: %v", time.Since(start).Round(time.Millisecond), err)
}
