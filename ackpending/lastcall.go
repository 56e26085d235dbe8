package ackpending

import (
	"context"
	"errors"
	"fmt"

	"github.com/rcp/rcp/broker"
)

// ErrLastCallLater is returned by LastCall when the push should be tried on
// the archiver's next pass (FCM unavailable, sender paused).
var ErrLastCallLater = errors.New("last-call push not sent yet")

// LastCall implements the archiver's Escalator: entries a member never
// acknowledged, older than the ledger's max age, are about to be
// acknowledged on the member's behalf. Those never pushed (delivery count
// 1) get one last notification now; entries pushed before send nothing new.
// No ledger bump: the archiver acknowledges the entries right after.
func (e *Escalator) LastCall(ctx context.Context, room, user string, entries []broker.PendingEntry) error {
	var fresh []broker.PendingEntry
	for _, p := range entries {
		if p.Deliveries < 2 {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	devs, err := e.devices.Tokens(ctx, []string{user})
	if err != nil {
		return fmt.Errorf("last call for %s in %s: %w", user, room, err)
	}
	if len(devs[user]) == 0 {
		return nil
	}
	policy, err := e.policies.of(ctx, room)
	if err != nil {
		policy = e.cfg.Preview
	}
	k := broker.Keys{Prefix: e.cfg.Prefix, Partition: broker.Partition(room, e.cfg.Partitions)}
	newest := fresh[len(fresh)-1].ID
	shown, _ := e.newestEntries(ctx, k.Room(room), []string{newest}) // trimmed: no preview
	n := newNotification(user, room, newest, shown[newest], int64(len(entries)), len(fresh), policy)
	var later error
	for _, d := range devs[user] {
		err := e.sendOne(ctx, d, n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrTokenGone), errors.Is(err, ErrRejected):
		default:
			later = err
		}
	}
	if later != nil {
		return fmt.Errorf("last call for %s in %s: %w: %w", user, room, ErrLastCallLater, later)
	}
	return nil
}
