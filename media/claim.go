package media

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/sqlc/rcpdb"
)

// errClaimTaken: the blobs row was refused because the sender's
// x-client-id in the room already names an image (unique key blobs_claim).
var errClaimTaken = errors.New("media: x-client-id already names an image")

// retried finds the image a first attempt of this SEND stored or claimed:
// the one the sender's clientID names in the room. Other bytes under the
// same clientID are ErrClientIDReused.
func (s *Service) retried(ctx context.Context, room, user, clientID string, info Info) (Image, bool, error) {
	row, found, err := s.claimedBy(ctx, room, user, clientID)
	if err != nil || !found {
		return Image{}, false, err
	}
	if !bytes.Equal(row.Sha256, info.SHA256[:]) {
		return Image{}, false, fmt.Errorf("%w: %s", ErrClientIDReused, clientID)
	}
	return imageOf(row), true, nil
}

func (s *Service) claimedBy(ctx context.Context, room, user, clientID string) (rcpdb.Blob, bool, error) {
	row, err := s.q.GetClaimedBlob(ctx, rcpdb.GetClaimedBlobParams{RoomID: room, OwnerID: user, ClaimClient: nullable(clientID)})
	if errors.Is(err, sql.ErrNoRows) {
		return rcpdb.Blob{}, false, nil
	}
	if err != nil {
		return rcpdb.Blob{}, false, fmt.Errorf("media: find image of x-client-id %s: %w", clientID, err)
	}
	return row, true, nil
}

// claim marks the user's upload in this room as used by this SEND; a retry
// with the claim's clientID gets the same image again.
func (s *Service) claim(ctx context.Context, room, user, clientID string, req ImageSend) ([]byte, error) {
	if clientID != "" {
		row, found, err := s.claimedBy(ctx, room, user, clientID)
		if err != nil {
			return nil, err
		}
		if found && row.BlobKey != req.Key {
			return nil, fmt.Errorf("%w: %s", ErrClientIDReused, clientID)
		}
		if found {
			return encodeBody(withName(imageOf(row), req.Name))
		}
	}
	n, err := s.q.ClaimBlob(ctx, rcpdb.ClaimBlobParams{ClaimedAt: sql.NullTime{Time: s.now().UTC(), Valid: true},
		ClaimClient: nullable(clientID), BlobKey: req.Key, OwnerID: user, RoomID: room})
	if isDuplicate(err) {
		return nil, fmt.Errorf("%w: %s", ErrClientIDReused, clientID)
	}
	if err != nil {
		return nil, fmt.Errorf("media: claim %s: %w", req.Key, err)
	}
	row, err := s.q.GetBlob(ctx, req.Key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownUpload, req.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("media: read blob %s: %w", req.Key, err)
	}
	if row.OwnerID != user || row.RoomID != room || row.DeletedAt.Valid {
		return nil, fmt.Errorf("%w: %s", ErrUnknownUpload, req.Key)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrUploadUsed, req.Key)
	}
	return encodeBody(withName(imageOf(row), req.Name))
}

func withName(img Image, name string) Image {
	if name != "" {
		img.Name = name
	}
	return img
}

func imageOf(row rcpdb.Blob) Image {
	return Image{Key: row.BlobKey, ContentType: row.ContentType, Name: row.Name, Size: int64(row.Size),
		Width: int(row.Width), Height: int(row.Height), SHA256: hex.EncodeToString(row.Sha256)}
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// isDuplicate reports MySQL's duplicate-key error (1062).
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// newKey names a new blob: rooms/<room>/<2 hex>/<32 random hex>.<ext>; the
// first two hex digits spread a room's files over 256 directories on disk.
func newKey(room, ext string) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("media: random key: %w", err)
	}
	h := hex.EncodeToString(id[:])
	key := "rooms/" + room + "/" + h[:2] + "/" + h + "." + ext
	if err := blob.ValidKey(key); err != nil {
		return "", fmt.Errorf("media: key for room %q: %w", room, err)
	}
	return key, nil
}
