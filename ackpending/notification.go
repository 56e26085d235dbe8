package ackpending

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Preview is how much of a message a notification shows.
type Preview string

// Preview policies (rooms.push_preview, RCP_PUSH_PREVIEW).
const (
	PreviewNone   Preview = "none"   // "New messages": neither sender nor text
	PreviewSender Preview = "sender" // the sender's id, not the text
	PreviewText   Preview = "text"   // sender and the beginning of the text
)

// ErrInvalidPreview is returned for an unknown policy.
var ErrInvalidPreview = errors.New("invalid push preview: want none, sender or text")

// ParsePreview checks a policy name.
func ParsePreview(s string) (Preview, error) {
	switch p := Preview(s); p {
	case PreviewNone, PreviewSender, PreviewText:
		return p, nil
	}
	return "", fmt.Errorf("%q: %w", s, ErrInvalidPreview)
}

// previewRunes bounds the text a notification carries.
const previewRunes = 100

// Notification is one collapsed notification for a (user, room): it tells
// the user's devices how many messages wait and shows the newest one as the
// room's policy allows.
type Notification struct {
	User     string
	Room     string
	NewestID string // stream id of the newest message announced
	Seq      int64  // its sequence number in the room
	Count    int64  // messages pending (unacknowledged) for the user in the room
	New      int    // messages announced for the first time by this push
	Preview  Preview
	Sender   string // empty with PreviewNone
	Text     string // the preview text; empty unless PreviewText
	Title    string
	Body     string
}

// newestEntry is what a notification shows of the newest message.
type newestEntry struct {
	Sender, Type string
	Body         []byte
	Seq          int64
}

// newNotification builds the notification of a push by policy p.
func newNotification(user, room, newestID string, e newestEntry, count int64, fresh int, p Preview) Notification {
	n := Notification{User: user, Room: room, NewestID: newestID, Seq: e.Seq, Count: count, New: fresh, Preview: p}
	unread := "1 new message"
	if count != 1 {
		unread = strconv.FormatInt(count, 10) + " new messages"
	}
	switch p {
	case PreviewText:
		n.Sender, n.Text = e.Sender, previewText(e)
		n.Title, n.Body = e.Sender, n.Text
	case PreviewSender:
		n.Sender = e.Sender
		n.Title, n.Body = e.Sender, unread
	default:
		n.Title, n.Body = "New messages", unread
	}
	if n.Body == "" {
		n.Body = unread
	}
	return n
}

// previewText is the start of a text message, or the kind of anything else.
func previewText(e newestEntry) string {
	if e.Type != "text" {
		if e.Type == "" {
			return ""
		}
		return "[" + e.Type + "]"
	}
	var b struct {
		Text string `json:"text"`
	}
	if json.Unmarshal(e.Body, &b) != nil {
		return ""
	}
	return truncateRunes(b.Text, previewRunes)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Data is the notification's FCM data payload (docs/push.md lists it).
func (n Notification) Data() map[string]string {
	d := map[string]string{
		"kind":   "rcp.messages",
		"room":   n.Room,
		"newest": n.NewestID,
		"seq":    strconv.FormatInt(n.Seq, 10),
		"count":  strconv.FormatInt(n.Count, 10),
		"new":    strconv.Itoa(n.New),
	}
	if n.Sender != "" {
		d["sender"] = n.Sender
	}
	if n.Text != "" {
		d["text"] = n.Text
	}
	return d
}
