package ackpending

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sender delivers one notification to one device token. FCMSender is the
// real one; LogSender prints what would be pushed.
type Sender interface {
	Send(ctx context.Context, token string, n Notification) error
}

// Kinds of push failure: every error a Sender returns wraps one of them
// (through *PushError), or the context's error.
var (
	// ErrTokenGone: the token is unregistered or invalid; it is removed.
	ErrTokenGone = errors.New("device token gone")
	// ErrTransient: try again later (unavailable, internal, quota, network).
	ErrTransient = errors.New("transient push failure")
	// ErrConfig: the sender is misconfigured (credentials, sender id); it is
	// reported loudly and pushes pause instead of retrying in a loop.
	ErrConfig = errors.New("push sender misconfigured")
	// ErrRejected: this notification to this device failed for good.
	ErrRejected = errors.New("push rejected")
)

// PushError is a failed push: its kind, the reason label of the metrics
// (unregistered, invalid_argument, unavailable, internal, quota_exceeded,
// network, sender_id_mismatch, auth, rejected), and the server's
// Retry-After if it gave one.
type PushError struct {
	Kind       error
	Reason     string
	RetryAfter time.Duration
	Err        error
}

func (e *PushError) Error() string {
	return fmt.Sprintf("push %s: %v", e.Reason, e.Err)
}

// Unwrap exposes both the kind and the cause to errors.Is / errors.As.
func (e *PushError) Unwrap() []error { return []error{e.Kind, e.Err} }

// reasonOf is the metrics label of err.
func reasonOf(err error) string {
	var pe *PushError
	switch {
	case errors.As(err, &pe):
		return pe.Reason
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "deadline"
	}
	return "other"
}

// LogSender logs every notification instead of sending it: the embedded
// default when no FCM credentials are configured.
type LogSender struct{ Logger *slog.Logger }

// Send logs n.
func (s LogSender) Send(ctx context.Context, token string, n Notification) error {
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "push (log sender: no FCM credentials)", "user", n.User, "room", n.Room,
		"token", shortToken(token), "count", n.Count, "new", n.New, "newest", n.NewestID,
		"title", n.Title, "body", n.Body)
	return nil
}

// shortToken keeps logs from carrying whole registration tokens.
func shortToken(t string) string {
	if len(t) <= 12 {
		return t
	}
	return t[:6] + "…" + t[len(t)-4:]
}
