package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/rcp/rcp/broker"
)

// Paging of GET /v1/rooms/{id}/messages.
const (
	defaultMessagesLimit = 50
	maxMessagesLimit     = 500
	maxAckBodyBytes      = 4 << 10
)

// messageJSON is one message of GET /v1/rooms/{id}/messages.
type messageJSON struct {
	ID     string          `json:"id"`
	Seq    int64           `json:"seq"`
	Sender string          `json:"sender"`
	Type   string          `json:"type"`
	Body   json.RawMessage `json:"body"`
	TS     int64           `json:"ts"`
}

// messagesPage: next is the `after` of the following page (null at the
// newest message); prev, for a page read with `before` only, is the
// `before` of the page of older messages (null at the first).
type messagesPage struct {
	Messages []messageJSON `json:"messages"`
	Next     *string       `json:"next"`
	Prev     *string       `json:"prev,omitempty"`
}

// messages pages a room's history in stream order: with after (or
// nothing) the oldest messages after it, below before if given; with
// before only, the newest messages below it.
func (a *SyncAPI) messages(w http.ResponseWriter, r *http.Request) {
	room, _, ok := a.member(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	after, before := q.Get("after"), q.Get("before")
	limit, e := messagesLimit(q.Get("limit"))
	if e == nil && (!ValidCursor(after) || (before != "" && !validStreamID(before))) {
		e = badRequest("invalid_cursor", "after and before must be stream ids like 1700000000000-0 (after may be 0)")
	}
	if e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	var (
		page []broker.Entry
		more bool
		err  error
		resp messagesPage
	)
	if after == "" && before != "" {
		page, more, err = a.history.Before(r.Context(), room, before, limit)
		if more && len(page) > 0 {
			resp.Prev = &page[0].ID
		}
	} else {
		page, more, err = a.history.After(r.Context(), room, after, before, limit)
		if more && len(page) > 0 {
			resp.Next = &page[len(page)-1].ID
		}
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	deliverable(r.Context(), a.media, page, false)
	resp.Messages = make([]messageJSON, len(page))
	for i, e := range page {
		resp.Messages[i] = messageJSON{ID: e.ID, Seq: e.Seq, Sender: e.Sender, Type: e.Type, Body: e.Body, TS: e.TimeMs()}
	}
	writeJSON(w, http.StatusOK, resp)
}

func validStreamID(s string) bool { _, err := broker.ParseID(s); return err == nil }

func messagesLimit(s string) (int, *requestError) {
	if s == "" {
		return defaultMessagesLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxMessagesLimit {
		return 0, badRequest("invalid_limit", "limit must be an integer from 1 to %d", maxMessagesLimit)
	}
	return n, nil
}

// ack acknowledges everything pending for the caller in the room up to and
// including upTo (after a sync): {"upTo": id} → {"acked": n}.
func (a *SyncAPI) ack(w http.ResponseWriter, r *http.Request) {
	room, user, ok := a.member(w, r)
	if !ok {
		return
	}
	var req struct {
		UpTo string `json:"upTo"`
	}
	if e := decodeJSON(w, r, maxAckBodyBytes, &req); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	if !validStreamID(req.UpTo) {
		writeError(w, http.StatusBadRequest, "invalid_cursor", "upTo must be a stream id like 1700000000000-0")
		return
	}
	n, err := a.broker.AckUpTo(r.Context(), room, user, req.UpTo)
	if errors.Is(err, broker.ErrNoGroup) {
		writeError(w, http.StatusForbidden, "not_member", "not a member of the room")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"acked": n})
}
