package media

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/rcp/rcp/sqlc/rcpdb"
)

// ExpireBlobs implements archiver.BlobRetention: it deletes from the store
// at most limit of room's images created before cutoff and records each
// deletion (blobs.deleted_at). The list comes from the blobs table filtered
// by room, so one room's retention never touches another room's images.
// A deletion that fails stops the run; the rest is retried next run
// (Delete of a missing blob is not an error, so reruns are safe).
func (s *Service) ExpireBlobs(ctx context.Context, room string, cutoff time.Time, limit int) (int, error) {
	rows, err := s.q.ListRoomBlobsCreatedBefore(ctx, rcpdb.ListRoomBlobsCreatedBeforeParams{
		RoomID: room, Cutoff: cutoff.UTC(), Limit: int32(limit)})
	if err != nil {
		return 0, fmt.Errorf("media: list expired blobs of %s: %w", room, err)
	}
	n := 0
	for _, row := range rows {
		if row.RoomID != room { // the query's filter; kept as an invariant
			return n, fmt.Errorf("media: blob %s of room %s listed for %s", row.BlobKey, row.RoomID, room)
		}
		if err := s.store.Delete(ctx, row.BlobKey); err != nil {
			return n, fmt.Errorf("media: delete blob %s: %w", row.BlobKey, err)
		}
		s.cache.forget(row.BlobKey)
		at := sql.NullTime{Time: s.now().UTC(), Valid: true}
		if _, err := s.q.MarkBlobDeleted(ctx, rcpdb.MarkBlobDeletedParams{DeletedAt: at, BlobKey: row.BlobKey}); err != nil {
			return n, fmt.Errorf("media: record deletion of %s: %w", row.BlobKey, err)
		}
		n++
	}
	return n, nil
}
