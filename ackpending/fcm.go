package ackpending

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

// FCMConfig configures the FCM sender.
type FCMConfig struct {
	// Credentials is a service-account JSON file (RCP_FCM_CREDENTIALS); empty
	// means Application Default Credentials.
	Credentials string
	// ProjectID overrides the project of the credentials (RCP_FCM_PROJECT).
	ProjectID string
	// Endpoint is a base URL without /v1 (RCP_FCM_ENDPOINT), for emulators.
	Endpoint string
	// TTL is how long FCM keeps an undelivered notification (24 h).
	TTL time.Duration
}

// FCMSender sends through firebase.google.com/go/v4 messaging (FCM HTTP v1).
type FCMSender struct {
	client *messaging.Client
	ttl    time.Duration
}

// NewFCMSender builds the messaging client. Credentials are resolved now,
// so a missing or unreadable key fails here rather than at the first push.
func NewFCMSender(ctx context.Context, cfg FCMConfig) (*FCMSender, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 24 * time.Hour
	}
	var opts []option.ClientOption
	if cfg.Credentials != "" {
		opts = append(opts, option.WithCredentialsFile(cfg.Credentials))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1"))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase messaging: %w", err)
	}
	return &FCMSender{client: client, ttl: cfg.TTL}, nil
}

// Send pushes n to one token: data + notification, Android priority high,
// the room as collapse key (and APNs collapse id, web push tag), TTL.
func (s *FCMSender) Send(ctx context.Context, token string, n Notification) error {
	_, err := s.client.Send(ctx, s.message(token, n))
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("push to %s: %w", shortToken(token), ctx.Err())
	}
	return classify(err)
}

func (s *FCMSender) message(token string, n Notification) *messaging.Message {
	ttl := s.ttl
	secs := strconv.FormatInt(int64(ttl.Seconds()), 10)
	return &messaging.Message{
		Token:        token,
		Data:         n.Data(),
		Notification: &messaging.Notification{Title: n.Title, Body: n.Body},
		Android: &messaging.AndroidConfig{CollapseKey: n.Room, Priority: "high", TTL: &ttl,
			Notification: &messaging.AndroidNotification{Tag: n.Room}},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-collapse-id": n.Room, "apns-priority": "10",
				"apns-expiration": strconv.FormatInt(time.Now().Add(ttl).Unix(), 10)},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ThreadID: n.Room}},
		},
		Webpush: &messaging.WebpushConfig{Headers: map[string]string{"Urgency": "high", "TTL": secs},
			Notification: &messaging.WebpushNotification{Tag: n.Room}},
	}
}

// classify maps an SDK error to a *PushError. The messaging.Is* helpers
// need the SDK's own error value, not a wrapped one.
func classify(err error) *PushError {
	pe := func(kind error, reason string) *PushError {
		return &PushError{Kind: kind, Reason: reason, RetryAfter: retryAfter(err), Err: err}
	}
	resp := errorutils.HTTPResponse(err)
	switch {
	case messaging.IsUnregistered(err):
		return pe(ErrTokenGone, "unregistered")
	case messaging.IsInvalidArgument(err):
		return pe(ErrTokenGone, "invalid_argument")
	case messaging.IsSenderIDMismatch(err):
		return pe(ErrConfig, "sender_id_mismatch")
	case messaging.IsThirdPartyAuthError(err):
		return pe(ErrRejected, "third_party_auth")
	case messaging.IsQuotaExceeded(err), resp != nil && resp.StatusCode == http.StatusTooManyRequests:
		return pe(ErrTransient, "quota_exceeded")
	case messaging.IsUnavailable(err), errorutils.IsUnavailable(err) && resp != nil:
		return pe(ErrTransient, "unavailable")
	case messaging.IsInternal(err), resp != nil && resp.StatusCode >= 500:
		return pe(ErrTransient, "internal")
	case errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err), isTokenFetch(err):
		return pe(ErrConfig, "auth")
	case resp == nil && (errorutils.IsUnavailable(err) || errorutils.IsUnknown(err) || errorutils.IsDeadlineExceeded(err)):
		return pe(ErrTransient, "network")
	}
	return pe(ErrRejected, "rejected")
}

// isTokenFetch recognises a failed OAuth token exchange (bad key, revoked
// service account): the SDK reports it as a transport error with the
// auth library's message.
func isTokenFetch(err error) bool {
	s := err.Error()
	return strings.Contains(s, "cannot fetch token") || strings.Contains(s, "oauth2:")
}

// retryAfter reads the Retry-After header of the failed response, if any.
func retryAfter(err error) time.Duration {
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// isTransient reports whether err is worth another attempt.
func isTransient(err error) bool { return errors.Is(err, ErrTransient) }
