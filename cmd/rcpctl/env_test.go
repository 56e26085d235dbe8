package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/broker/brokertest"
	"github.com/rcp/rcp/gateway"
	"github.com/rcp/rcp/queries"
	"github.com/rcp/rcp/queries/queriestest"
)

// fixture is a broker on the test Redis under a key prefix of its own, and
// the flags that point rcpctl at the same keys.
type fixture struct {
	t     *testing.T
	b     *broker.Broker
	flags []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := brokertest.New(t)
	prefix := b.Prefix()
	return &fixture{t: t, b: b, flags: []string{"--redis-url", brokertest.URL(t), "--key-prefix", prefix, "--partitions", "4"}}
}

// run runs rcpctl with the fixture's connection flags appended.
func (f *fixture) run(args ...string) (string, error) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, append(args, f.flags...), &out)
	return out.String(), err
}

// runJSON runs rcpctl with --json and decodes its output into v.
func (f *fixture) runJSON(v any, args ...string) {
	f.t.Helper()
	out, err := f.run(append(args, "--json")...)
	if err != nil {
		f.t.Fatalf("rcpctl %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		f.t.Fatalf("rcpctl %s: %v in %s", strings.Join(args, " "), err, out)
	}
}

func (f *fixture) join(room string, users ...string) {
	f.t.Helper()
	for _, u := range users {
		if _, err := f.b.Join(context.Background(), room, u); err != nil {
			f.t.Fatal(err)
		}
	}
}

// send sends n text messages and returns their results.
func (f *fixture) send(room, sender string, n int) []broker.SendResult {
	f.t.Helper()
	var out []broker.SendResult
	for i := 0; i < n; i++ {
		res, err := f.b.Send(context.Background(), broker.SendRequest{Room: room, Sender: sender, Type: "text",
			Body: []byte(fmt.Sprintf(`{"type":"text","text":"m%d"}`, i))})
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, res)
	}
	return out
}

// withMySQL gives the fixture a migrated database of its own, creates
// rooms through the gateway's stores (MySQL, then the Redis mirror) and
// points rcpctl at it.
func (f *fixture) withMySQL(rooms map[string][]string) {
	t := f.t
	t.Helper()
	db, name := queriestest.NewEmptyDB(t)
	ctx := context.Background()
	if err := queries.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	store := gateway.NewLedgerRoomStore(gateway.NewMySQLRoomStore(db, gateway.MySQLRoomStoreConfig{}), f.b)
	for id, members := range rooms {
		spec := gateway.RoomSpec{ID: id, Name: id, Kind: gateway.KindGroup, Members: members}
		if _, _, err := store.Create(ctx, spec); err != nil {
			t.Fatalf("create room %s: %v", id, err)
		}
	}
	cfg, err := mysql.ParseDSN(queriestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	f.flags = append(f.flags, "--mysql-dsn", cfg.FormatDSN())
}
