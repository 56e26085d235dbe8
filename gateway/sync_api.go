package gateway

import (
	"log/slog"
	"net/http"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/media"
)

// maxSyncBodyBytes bounds a sync request: MaxSyncCursors cursors of a
// 64-character room id and a stream id.
const maxSyncBodyBytes = 1 << 20

// SyncAPI serves offline sync over REST: POST /v1/sync, GET
// /v1/rooms/{id}/messages and POST /v1/rooms/{id}/ack. Every endpoint
// takes the user's bearer token; the room endpoints need membership.
type SyncAPI struct {
	syncer   *Syncer
	history  *History
	broker   *broker.Broker
	verifier *Verifier
	media    *media.Service // image URLs in history pages; nil: bodies as stored
	log      *slog.Logger
}

// SetMedia puts image URLs into the bodies of history pages.
func (a *SyncAPI) SetMedia(m *media.Service) { a.media = m }

// NewSyncAPI returns the sync endpoints.
func NewSyncAPI(s *Syncer, h *History, verifier *Verifier, log *slog.Logger) *SyncAPI {
	if log == nil {
		log = slog.Default()
	}
	return &SyncAPI{syncer: s, history: h, broker: s.b, verifier: verifier, log: log}
}

// Register adds the endpoints to mux.
func (a *SyncAPI) Register(mux *http.ServeMux) {
	auth := func(h http.HandlerFunc) http.Handler { return a.verifier.Authenticate(h) }
	mux.Handle("POST /v1/sync", auth(a.sync))
	mux.Handle("GET /v1/rooms/{id}/messages", auth(a.messages))
	mux.Handle("POST /v1/rooms/{id}/ack", auth(a.ack))
}

// syncRequest is the body of POST /v1/sync and SEND /app/sync.
type syncRequest struct {
	Cursors   map[string]string `json:"cursors"`
	RequestID string            `json:"requestId,omitempty"`
}

// syncReply answers a sync; over STOMP it carries type and requestId.
type syncReply struct {
	Type      string     `json:"type,omitempty"`
	RequestID string     `json:"requestId,omitempty"`
	Rooms     []SyncRoom `json:"rooms"`
}

// check refuses what the syncer would: too many cursors, bad ids.
func (r syncRequest) check() *requestError {
	if len(r.Cursors) > MaxSyncCursors {
		return badRequest("too_many_cursors", "at most %d cursors", MaxSyncCursors)
	}
	for room, c := range r.Cursors {
		if !ValidRoomID(room) {
			return badRequest("invalid_room_id", "cursor of %.70q: %s", room, roomIDRule)
		}
		if !ValidCursor(c) {
			return badRequest("invalid_cursor", "cursor of %s must be a stream id like 1700000000000-0, or 0", room)
		}
	}
	if len(r.RequestID) > 128 {
		return badRequest("invalid_request_id", "requestId has at most 128 characters")
	}
	return nil
}

func (a *SyncAPI) sync(w http.ResponseWriter, r *http.Request) {
	var req syncRequest
	if e := decodeJSON(w, r, maxSyncBodyBytes, &req); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	if e := req.check(); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	rooms, err := a.syncer.Sync(r.Context(), p.UserID, req.Cursors)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, syncReply{RequestID: req.RequestID, Rooms: nonNil(rooms)})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// member answers 403 not_member (also for a room that does not exist, so
// room ids do not leak) unless the caller is a member of the room.
func (a *SyncAPI) member(w http.ResponseWriter, r *http.Request) (room, user string, ok bool) {
	room, ok = roomIDParam(w, r)
	if !ok {
		return "", "", false
	}
	p, _ := PrincipalFrom(r.Context())
	is, err := a.broker.IsMember(r.Context(), room, p.UserID)
	if err != nil {
		a.internal(w, r, err)
		return "", "", false
	}
	if !is {
		writeError(w, http.StatusForbidden, "not_member", "not a member of the room")
		return "", "", false
	}
	return room, p.UserID, true
}

// internal answers 500 and logs the detail (or nothing: the client left).
func (a *SyncAPI) internal(w http.ResponseWriter, r *http.Request, err error) {
	writeInternal(w, r, a.log, "sync API", err)
}
