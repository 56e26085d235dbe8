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

// ExpireUploads implements archiver.UploadExpiry: it deletes at most limit
// uploads that no SEND claimed and that were created before cutoff. Each
// row is retired first, on the condition that it is still unclaimed, so a
// SEND claiming the key at the same moment either wins (the upload stays)
// or is refused as an unknown upload; no message ever names deleted bytes.
// A store deletion that fails stops the run and leaves those bytes behind
// (logged by the caller; the row is already retired).
func (s *Service) ExpireUploads(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	rows, err := s.q.ListUnclaimedBlobsBefore(ctx, rcpdb.ListUnclaimedBlobsBeforeParams{
		Cutoff: cutoff.UTC(), Limit: int32(limit)})
	if err != nil {
		return 0, fmt.Errorf("media: list unclaimed uploads: %w", err)
	}
	n := 0
	for _, row := range rows {
		at := sql.NullTime{Time: s.now().UTC(), Valid: true}
		won, err := s.q.MarkUnclaimedBlobDeleted(ctx, rcpdb.MarkUnclaimedBlobDeletedParams{DeletedAt: at, BlobKey: row.BlobKey})
		if err != nil {
			return n, fmt.Errorf("media: retire upload %s: %w", row.BlobKey, err)
		}
		if won == 0 {
			continue // claimed (or deleted) since it was listed
		}
		s.cache.forget(row.BlobKey)
		if err := s.store.Delete(ctx, row.BlobKey); err != nil {
			return n, fmt.Errorf("media: delete upload %s (row retired, bytes left): %w", row.BlobKey, err)
		}
		n++
	}
	return n, nil
}
