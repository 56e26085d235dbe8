package archiver

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// insertWidth is the rows of rcpdb.InsertMessages32, the archiver's
// multi-row statement; rowFields its columns per row.
const (
	insertWidth = 32
	rowFields   = 11
)

// The generated parameter struct of InsertMessages32 has, per row k, the
// fields RoomID_k, IDMs_k, … in VALUES order (row 1 without suffix). fill
// sets them by position; init checks the layout once, so a change of the
// query that breaks it fails at start, not silently.
func init() {
	t := reflect.TypeFor[rcpdb.InsertMessages32Params]()
	want := []string{"RoomID", "IDMs", "IDSeq", "Seq", "SenderID", "Type", "Body", "ClientID", "CreatedAt", "PrevMs", "PrevSeq"}
	if t.NumField() != insertWidth*rowFields {
		panic(fmt.Sprintf("archiver: InsertMessages32Params has %d fields, want %d", t.NumField(), insertWidth*rowFields))
	}
	for row := range insertWidth {
		for col, name := range want {
			if row > 0 {
				name = fmt.Sprintf("%s_%d", name, row+1)
			}
			if got := t.Field(row*rowFields + col).Name; got != name {
				panic(fmt.Sprintf("archiver: InsertMessages32Params field %d is %s, want %s", row*rowFields+col, got, name))
			}
		}
	}
}

// insertParams fills the statement's rows with es (1 to insertWidth
// entries), padding with the last entry, which INSERT IGNORE drops.
func insertParams(es []broker.Entry) rcpdb.InsertMessages32Params {
	var p rcpdb.InsertMessages32Params
	v := reflect.ValueOf(&p).Elem()
	for row := range insertWidth {
		e := es[min(row, len(es)-1)]
		id, _ := broker.ParseID(e.ID)
		prev, perr := broker.ParseID(e.PrevID)
		f := func(col int) reflect.Value { return v.Field(row*rowFields + col) }
		f(0).SetString(e.Room)
		f(1).SetUint(id.Ms)
		f(2).SetUint(id.Seq)
		f(3).SetUint(uint64(max(e.Seq, 0)))
		f(4).SetString(e.Sender)
		f(5).SetString(e.Type)
		f(6).Set(reflect.ValueOf(jsonBody(e.Body)))
		f(7).Set(reflect.ValueOf(sql.NullString{String: e.ClientID, Valid: e.ClientID != ""}))
		f(8).Set(reflect.ValueOf(time.UnixMilli(int64(id.Ms)).UTC()))
		f(9).Set(reflect.ValueOf(sql.NullInt64{Int64: int64(prev.Ms), Valid: perr == nil}))
		f(10).Set(reflect.ValueOf(sql.NullInt64{Int64: int64(prev.Seq), Valid: perr == nil}))
	}
	return p
}

// jsonBody is the body as the JSON column takes it. Bodies come from the
// gateway as JSON; anything else (written around it) is kept as a JSON
// string rather than blocking the archive forever.
func jsonBody(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	s, _ := json.Marshal(string(b))
	return s
}

// insert writes the entries in one transaction, insertWidth rows per
// statement, and returns the rows MySQL added (entries archived before
// are not counted).
func (a *Archiver) insert(ctx context.Context, es []broker.Entry) (int64, error) {
	if len(es) == 0 {
		return 0, nil
	}
	tx, err := a.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("archive: begin: %w", err)
	}
	q := rcpdb.New(tx)
	var rows int64
	for i := 0; i < len(es); i += insertWidth {
		n, err := q.InsertMessages32(ctx, insertParams(es[i:min(i+insertWidth, len(es))]))
		if err != nil {
			tx.Rollback() //nolint:errcheck // the insert error is the one to report
			return 0, fmt.Errorf("archive: insert %d entries: %w", len(es), err)
		}
		rows += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("archive: commit %d entries: %w", len(es), err)
	}
	return rows, nil
}
