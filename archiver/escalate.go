package archiver

import (
	"context"
	"log/slog"

	"github.com/rcp/rcp/broker"
)

// Escalator is told about entries a member never acknowledged, once, right
// before the archiver acknowledges them on the member's behalf: they are
// older than the ledger's max age, already in MySQL (the client's next sync
// finds them there), and they block the trim. The escalation package
// (ackpending) implements it to send the last push. An error leaves the
// entries pending; the next pass asks again.
type Escalator interface {
	LastCall(ctx context.Context, room, user string, entries []broker.PendingEntry) error
}

// LogEscalator is the default Escalator: one log line per member and room.
type LogEscalator struct{ Logger *slog.Logger }

// LastCall implements Escalator.
func (l LogEscalator) LastCall(ctx context.Context, room, user string, entries []broker.PendingEntry) error {
	if len(entries) == 0 {
		return nil
	}
	l.Logger.InfoContext(ctx, "pending entries past the ledger's max age: acknowledged for the member",
		"room", room, "user", user, "entries", len(entries),
		"oldest", entries[0].ID, "newest", entries[len(entries)-1].ID)
	return nil
}
