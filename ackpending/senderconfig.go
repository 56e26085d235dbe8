package ackpending

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/oauth2/google"
)

// CredentialsLog is the RCP_FCM_CREDENTIALS value that forces the log
// sender.
const CredentialsLog = "log"

// NewSender picks the sender of a node: the log sender for
// RCP_FCM_CREDENTIALS=log; FCM with the service-account file it names; with
// it empty, FCM with Application Default Credentials when they can be
// found (within a few seconds), else the log sender. It also names the
// choice for the start-up log.
func NewSender(ctx context.Context, cfg FCMConfig, log *slog.Logger) (Sender, string, error) {
	switch {
	case cfg.Credentials == CredentialsLog:
		return LogSender{Logger: log}, "log", nil
	case cfg.Credentials == "" && !adcAvailable(ctx):
		return LogSender{Logger: log}, "log (no FCM credentials found)", nil
	}
	s, err := NewFCMSender(ctx, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("fcm sender: %w", err)
	}
	src := "fcm (application default credentials)"
	if cfg.Credentials != "" {
		src = "fcm (" + cfg.Credentials + ")"
	}
	return s, src, nil
}

// adcAvailable reports whether Application Default Credentials exist.
func adcAvailable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := google.FindDefaultCredentials(ctx, "https://www.googleapis.com/auth/firebase.messaging")
	return err == nil
}
