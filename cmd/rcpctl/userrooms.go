package main

import (
	"context"
	"fmt"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// userRoomsPage is how many rooms one ListUserRooms query returns.
const userRoomsPage = 500

// userRooms returns the rooms to look at for user: the --rooms list when
// given, else the user's memberships in MySQL, the system of record
// (ListUserRooms, an index range scan). Scanning Redis for members sets was
// the alternative; it costs O(keys) per call and needs every Cluster primary.
func userRooms(ctx context.Context, c *common, user, list string) ([]string, error) {
	if list != "" {
		rooms := splitList(list)
		for _, r := range rooms {
			if !broker.ValidID(r) {
				return nil, fmt.Errorf("room id %q: %w", r, broker.ErrBadID)
			}
		}
		return rooms, nil
	}
	db, err := c.openMySQL(ctx)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := rcpdb.New(db)
	var rooms []string
	after := ""
	for {
		page, err := q.ListUserRooms(ctx, rcpdb.ListUserRoomsParams{UserID: user, After: after, Limit: userRoomsPage})
		if err != nil {
			return nil, fmt.Errorf("rooms of %s from MySQL: %w", user, err)
		}
		for _, r := range page {
			rooms = append(rooms, r.ID)
		}
		if len(page) < userRoomsPage {
			return rooms, nil
		}
		after = page[len(page)-1].ID
	}
}
