package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// maxRoomBodyBytes bounds a room API request body: a create with the
// default 1,000 members of 128-character ids is about 131 KB.
const maxRoomBodyBytes = 256 << 10

// Paging of GET /v1/users/{userId}/rooms.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// RoomAPI serves the room endpoints of the REST API. Every endpoint needs a
// bearer token; all but listing one's own rooms need the scope rooms:admin.
type RoomAPI struct {
	store    RoomStore
	verifier *Verifier
	logger   *slog.Logger
}

// NewRoomAPI returns the room API on store, authenticating with verifier.
func NewRoomAPI(store RoomStore, verifier *Verifier, logger *slog.Logger) *RoomAPI {
	if logger == nil {
		logger = slog.Default()
	}
	return &RoomAPI{store: store, verifier: verifier, logger: logger}
}

// Register adds the room endpoints to mux.
func (a *RoomAPI) Register(mux *http.ServeMux) {
	admin := func(h http.HandlerFunc) http.Handler {
		return a.verifier.Authenticate(RequireScope(ScopeRoomsAdmin, h))
	}
	mux.Handle("POST /v1/rooms", admin(a.createRoom))
	mux.Handle("GET /v1/rooms/{id}", admin(a.getRoom))
	mux.Handle("POST /v1/rooms/{id}/members", admin(a.addMember))
	mux.Handle("DELETE /v1/rooms/{id}/members/{userId}", admin(a.removeMember))
	mux.Handle("POST /v1/rooms/{id}/close", admin(a.closeRoom))
	mux.Handle("GET /v1/users/{userId}/rooms", a.verifier.Authenticate(http.HandlerFunc(a.listUserRooms)))
}

func (a *RoomAPI) createRoom(w http.ResponseWriter, r *http.Request) {
	var req createRoomRequest
	if e := decodeJSON(w, r, maxRoomBodyBytes, &req); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	spec, e := req.spec()
	if e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	room, created, err := a.store.Create(r.Context(), spec)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.audit(r, "room created", "room", room.ID, "kind", room.Kind, "members", len(room.Members))
	}
	w.Header().Set("Location", "/v1/rooms/"+room.ID)
	writeJSON(w, status, roomResponse(room))
}

func (a *RoomAPI) getRoom(w http.ResponseWriter, r *http.Request) {
	id, ok := roomIDParam(w, r)
	if !ok {
		return
	}
	room, err := a.store.Get(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, roomResponse(room))
}

func (a *RoomAPI) addMember(w http.ResponseWriter, r *http.Request) {
	id, ok := roomIDParam(w, r)
	if !ok {
		return
	}
	var req addMemberRequest
	if e := decodeJSON(w, r, maxRoomBodyBytes, &req); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	if !ValidUserID(req.UserID) {
		writeError(w, http.StatusBadRequest, "invalid_user_id", userIDRule)
		return
	}
	m, added, err := a.store.AddMember(r.Context(), id, req.UserID)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	status := http.StatusOK
	if added {
		status = http.StatusCreated
		a.audit(r, "member added", "room", id, "user", m.UserID)
	}
	writeJSON(w, status, memberResponse(m))
}

func (a *RoomAPI) removeMember(w http.ResponseWriter, r *http.Request) {
	id, ok := roomIDParam(w, r)
	if !ok {
		return
	}
	user := r.PathValue("userId")
	if !ValidUserID(user) {
		writeError(w, http.StatusBadRequest, "invalid_user_id", userIDRule)
		return
	}
	removed, err := a.store.RemoveMember(r.Context(), id, user)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	if removed {
		a.audit(r, "member removed", "room", id, "user", user)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *RoomAPI) closeRoom(w http.ResponseWriter, r *http.Request) {
	id, ok := roomIDParam(w, r)
	if !ok {
		return
	}
	room, err := a.store.Close(r.Context(), id)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	a.audit(r, "room closed", "room", id, "closedAt", room.ClosedAt)
	writeJSON(w, http.StatusOK, roomResponse(room))
}

// listUserRooms lists a user's rooms: any user their own, rooms:admin anyone's.
func (a *RoomAPI) listUserRooms(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("userId")
	if !ValidUserID(user) {
		writeError(w, http.StatusBadRequest, "invalid_user_id", userIDRule)
		return
	}
	if p, _ := PrincipalFrom(r.Context()); p.UserID != user && !p.HasScope(ScopeRoomsAdmin) {
		writeAuthError(w, ErrInsufficientScope)
		return
	}
	after, limit, e := pageParams(r)
	if e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	rooms, err := a.store.ListForUser(r.Context(), user, after, limit)
	if err != nil {
		a.storeError(w, r, err)
		return
	}
	resp := userRoomsResponse{Rooms: make([]userRoomJSON, len(rooms))}
	for i, ur := range rooms {
		resp.Rooms[i] = userRoomResponse(ur)
	}
	if len(rooms) == limit {
		resp.Next = &rooms[len(rooms)-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

func pageParams(r *http.Request) (after string, limit int, e *requestError) {
	q := r.URL.Query()
	after = q.Get("after")
	if after != "" && !ValidRoomID(after) {
		return "", 0, badRequest("invalid_cursor", "after must be a room id")
	}
	limit = defaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return "", 0, badRequest("invalid_limit", "limit must be an integer from 1 to %d", maxListLimit)
		}
		limit = n
	}
	return after, limit, nil
}

const (
	roomIDRule = "room ids are 1 to 64 of A-Z a-z 0-9 _ -"
	userIDRule = "user ids are 1 to 128 of A-Z a-z 0-9 _ -"
)

// roomIDParam returns the {id} path value, or answers 400 and false.
func roomIDParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !ValidRoomID(id) {
		writeError(w, http.StatusBadRequest, "invalid_room_id", roomIDRule)
		return "", false
	}
	return id, true
}

// storeError answers a RoomStore error: its sentinel decides the status;
// anything else is a 500 whose detail goes to the log only.
func (a *RoomAPI) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrRoomNotFound):
		writeError(w, http.StatusNotFound, "room_not_found", "no room with this id")
	case errors.Is(err, ErrRoomExists):
		writeError(w, http.StatusConflict, "room_exists",
			"a room with this id exists and was created with different attributes")
	case errors.Is(err, ErrRoomClosed):
		writeError(w, http.StatusConflict, "room_closed", "the room is closed")
	case errors.Is(err, ErrMemberLimit):
		writeError(w, http.StatusUnprocessableEntity, "member_limit", unwrapDetail(err, ErrMemberLimit))
	case errors.Is(err, ErrInvalidRoom):
		writeError(w, http.StatusBadRequest, "invalid_room", unwrapDetail(err, ErrInvalidRoom))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		a.logger.DebugContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path)
	default:
		writeInternal(w, r, a.logger, "room API", err)
	}
}

// audit logs a change with who made it.
func (a *RoomAPI) audit(r *http.Request, msg string, args ...any) {
	p, _ := PrincipalFrom(r.Context())
	a.logger.InfoContext(r.Context(), msg, append(args, "by", p.UserID)...)
}

// unwrapDetail is err's message from sentinel on: what went wrong without
// the call chain that led there.
func unwrapDetail(err, sentinel error) string {
	msg := err.Error()
	if i := strings.Index(msg, sentinel.Error()); i >= 0 {
		return msg[i:]
	}
	return sentinel.Error()
}
