package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rcp/rcp/ackpending"
	"github.com/rcp/rcp/stomp"
)

// devicesDest is the STOMP destination of device registration.
const devicesDest = "/app/devices"

// Refusal of a bad /app/devices body.
const msgBadDevice = "invalid device"

// pushEdge connects STOMP sessions to escalation: a session is live
// presence from CONNECT until it closes, and SEND /app/devices registers
// or deletes the user's device tokens. A nil pushEdge does nothing.
type pushEdge struct {
	presence *ackpending.Presence
	devices  *ackpending.Devices
	log      *slog.Logger
}

// SetPush enables presence (p) and SEND /app/devices (d) on the handler;
// call it before serving.
func (h *STOMPHandler) SetPush(p *ackpending.Presence, d *ackpending.Devices) {
	h.push = &pushEdge{presence: p, devices: d, log: h.log}
}

// connected records the session as live. A Redis failure is logged, not
// fatal: the user merely looks offline (pushes come after the offline
// grace instead of the ack timeout).
func (e *pushEdge) connected(ctx context.Context, c *stomp.Conn, user string) {
	if e == nil || e.presence == nil {
		return
	}
	if err := e.presence.Connected(ctx, user, c.ID()); err != nil {
		e.log.Warn("presence not recorded; the user looks offline", "user", user, "err", err)
	}
}

// disconnected removes the session from presence.
func (e *pushEdge) disconnected(c *stomp.Conn) {
	s := sessionOf(c)
	if e == nil || e.presence == nil || s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.presence.Disconnected(ctx, s.principal.UserID, c.ID()); err != nil {
		e.log.Warn("presence not removed; it expires by itself", "user", s.principal.UserID, "err", err)
	}
}

// sendDevice handles SEND /app/devices: {"token","platform"} registers,
// {"token","delete":true} deletes. The RECEIPT carries x-device:
// registered, unchanged or deleted.
func (h *STOMPHandler) sendDevice(ctx context.Context, c *stomp.Conn, f *stomp.Frame) (stomp.Header, error) {
	e := h.push
	if e == nil || e.devices == nil {
		return nil, stomp.Refuse(nil, msgUnknownDest, "device registration is not enabled on this server")
	}
	s := sessionOf(c)
	if !s.limiter.Allow() {
		return nil, stomp.Refuse(nil, msgRateLimited, fmt.Sprintf("at most %v SENDs per second", h.cfg.SendRate))
	}
	dec := json.NewDecoder(bytes.NewReader(f.Body))
	dec.DisallowUnknownFields()
	var req deviceRequest
	if err := dec.Decode(&req); err != nil || dec.More() {
		return nil, stomp.Refuse(err, msgBadDevice, `body: {"token":"…","platform":"android|ios|web"} or {"token":"…","delete":true}`)
	}
	user := s.principal.UserID
	result := "deleted"
	var err error
	if req.Delete {
		if err = ackpending.ValidateDevice(req.Token, "android"); err == nil {
			_, err = e.devices.Unregister(ctx, user, req.Token)
		}
	} else {
		var created bool
		created, err = e.devices.Register(ctx, user, req.Token, req.Platform)
		result = map[bool]string{true: "registered", false: "unchanged"}[created]
	}
	switch {
	case errors.Is(err, ackpending.ErrInvalidToken), errors.Is(err, ackpending.ErrInvalidPlatform):
		return nil, stomp.Refuse(err, msgBadDevice, err.Error())
	case err != nil:
		e.log.Error("device registration failed", "user", user, "err", err)
		return nil, stomp.Refuse(err, msgTemporarilyDown, "device registration failed; retry")
	}
	return stomp.Header{{Key: "x-device", Value: result}}, nil
}
