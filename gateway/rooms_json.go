package gateway

import "time"

// createRoomRequest is the body of POST /v1/rooms. Pointers tell a missing
// field from a zero one.
type createRoomRequest struct {
	ID                 *string  `json:"id"`
	Name               string   `json:"name"`
	Kind               string   `json:"kind"`
	Members            []string `json:"members"`
	TextRetentionDays  *int     `json:"textRetentionDays"`
	MediaRetentionDays *int     `json:"mediaRetentionDays"`
	PushPreview        *string  `json:"pushPreview"`
}

// spec checks presence and syntax and returns the normalized spec.
func (req createRoomRequest) spec() (RoomSpec, *requestError) {
	switch {
	case req.Kind == "":
		return RoomSpec{}, badRequest("invalid_room", "kind is required: group, direct or o2o")
	case req.Members == nil:
		return RoomSpec{}, badRequest("invalid_room", "members is required (an array of user ids, may be empty)")
	case req.TextRetentionDays == nil || req.MediaRetentionDays == nil:
		return RoomSpec{}, badRequest("invalid_room",
			"textRetentionDays and mediaRetentionDays are required (days, 0 keeps forever)")
	case req.ID != nil && !ValidRoomID(*req.ID):
		return RoomSpec{}, badRequest("invalid_room_id", roomIDRule)
	}
	spec := RoomSpec{
		Name:               req.Name,
		Kind:               RoomKind(req.Kind),
		Members:            req.Members,
		TextRetentionDays:  *req.TextRetentionDays,
		MediaRetentionDays: *req.MediaRetentionDays,
	}
	if req.ID != nil {
		spec.ID = *req.ID
	}
	if req.PushPreview != nil {
		if *req.PushPreview == "" {
			return RoomSpec{}, badRequest("invalid_room", "pushPreview must be none, sender, text or null")
		}
		spec.PushPreview = PushPreview(*req.PushPreview)
	}
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		return RoomSpec{}, badRequest("invalid_room", "%s", unwrapDetail(err, ErrInvalidRoom))
	}
	return spec, nil
}

// addMemberRequest is the body of POST /v1/rooms/{id}/members.
type addMemberRequest struct {
	UserID string `json:"userId"`
}

type roomJSON struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Kind               RoomKind     `json:"kind"`
	Members            []memberJSON `json:"members"`
	TextRetentionDays  int          `json:"textRetentionDays"`
	MediaRetentionDays int          `json:"mediaRetentionDays"`
	// PushPreview is null when the server's default applies.
	PushPreview *PushPreview `json:"pushPreview"`
	CreatedAt   time.Time    `json:"createdAt"`
	ClosedAt    *time.Time   `json:"closedAt"`
}

type memberJSON struct {
	RoomID   string    `json:"roomId"`
	UserID   string    `json:"userId"`
	Role     string    `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
}

type userRoomJSON struct {
	ID                 string       `json:"id"`
	Name               string       `json:"name"`
	Kind               RoomKind     `json:"kind"`
	TextRetentionDays  int          `json:"textRetentionDays"`
	MediaRetentionDays int          `json:"mediaRetentionDays"`
	PushPreview        *PushPreview `json:"pushPreview"`
	CreatedAt          time.Time    `json:"createdAt"`
	ClosedAt           *time.Time   `json:"closedAt"`
	Role               string       `json:"role"`
	JoinedAt           time.Time    `json:"joinedAt"`
}

type userRoomsResponse struct {
	Rooms []userRoomJSON `json:"rooms"`
	// Next is the cursor for ?after= to get the next page; null at the end.
	Next *string `json:"next"`
}

func roomResponse(r Room) roomJSON {
	out := roomJSON{
		ID:                 r.ID,
		Name:               r.Name,
		Kind:               r.Kind,
		Members:            make([]memberJSON, len(r.Members)),
		TextRetentionDays:  r.TextRetentionDays,
		MediaRetentionDays: r.MediaRetentionDays,
		PushPreview:        previewJSON(r.PushPreview),
		CreatedAt:          r.CreatedAt,
		ClosedAt:           timeJSON(r.ClosedAt),
	}
	for i, m := range r.Members {
		out.Members[i] = memberResponse(m)
	}
	return out
}

func memberResponse(m Member) memberJSON {
	return memberJSON{RoomID: m.RoomID, UserID: m.UserID, Role: m.Role, JoinedAt: m.JoinedAt}
}

func userRoomResponse(ur UserRoom) userRoomJSON {
	return userRoomJSON{
		ID:                 ur.ID,
		Name:               ur.Name,
		Kind:               ur.Kind,
		TextRetentionDays:  ur.TextRetentionDays,
		MediaRetentionDays: ur.MediaRetentionDays,
		PushPreview:        previewJSON(ur.PushPreview),
		CreatedAt:          ur.CreatedAt,
		ClosedAt:           timeJSON(ur.ClosedAt),
		Role:               ur.Role,
		JoinedAt:           ur.JoinedAt,
	}
}

func previewJSON(p PushPreview) *PushPreview {
	if p == PreviewDefault {
		return nil
	}
	return &p
}

func timeJSON(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
