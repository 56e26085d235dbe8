package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/ackpending/fcmtest"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/queries/queriestest"
)

func TestPushTestSendsToEveryDevice(t *testing.T) {
	f := newFixture(t)
	db, name := queriestest.NewEmptyDB(t)
	if err := queries.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(queriestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	registerDevices(t, db, f, "bob", "tok-ok", "tok-gone")
	emu := fcmtest.New(t)
	emu.ReplyTo("tok-gone", fcmtest.Error("UNREGISTERED"))
	var out struct {
		User, Sender string
		Devices      []pushTestResult
	}
	f.runJSON(&out, "push-test", "--user", "bob", "--mysql-dsn", cfg.FormatDSN(),
		"--fcm-credentials", emu.ServiceAccountFile(t, t.TempDir()), "--fcm-endpoint", emu.Endpoint())
	got := map[string]string{}
	for _, d := range out.Devices {
		got[d.Token] = d.Result + "/" + d.Reason
	}
	if out.User != "bob" || len(got) != 2 || got["tok-ok"] != "accepted/" || got["tok-gone"] != "gone/unregistered" {
		t.Fatalf("push-test: %+v", out)
	}
	if acc := emu.Accepted(); len(acc) != 1 || acc[0].Message.Notification.Title != "RCP test" {
		t.Fatalf("emulator accepted %+v", acc)
	}
	// rcpctl only reads: the gone token stays for rcpd to remove.
	devs, err := ackpending.NewDevices(db, f.b.Redis(), ackpending.DevicesConfig{Prefix: f.b.Prefix()}).
		Tokens(context.Background(), []string{"bob"})
	if err != nil || len(devs["bob"]) != 2 {
		t.Fatalf("devices after push-test: %v %v, want both", devs, err)
	}
}

func registerDevices(t *testing.T, db *sql.DB, f *fixture, user string, tokens ...string) {
	t.Helper()
	d := ackpending.NewDevices(db, f.b.Redis(), ackpending.DevicesConfig{Prefix: f.b.Prefix()})
	for _, tok := range tokens {
		if _, err := d.Register(context.Background(), user, tok, "android"); err != nil {
			t.Fatal(err)
		}
	}
}
