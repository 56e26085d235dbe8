package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/media"
	"github.com/rcp/rcp/stomp"
)

// msgServerBusy refuses an image SEND while the image memory budget is spent.
const msgServerBusy = "server busy"

// SetMedia enables image messages: SENDs with base64 images or upload keys,
// and URLs (plus inline bytes) in delivered image bodies. Call before
// serving; without it image SENDs are refused.
func (h *STOMPHandler) SetMedia(m *media.Service) {
	h.media = m
	h.router.media = m
}

// messageBody validates a SEND body and returns the body to store: text is
// checked here, images by the media service (which stores their bytes first).
func (h *STOMPHandler) messageBody(ctx context.Context, room, user, clientID string, body []byte) (string, []byte, error) {
	typ, canonical, err := ParseMessageBody(body, h.cfg.MaxText)
	if !errors.Is(err, ErrImageBody) {
		return typ, canonical, err
	}
	if h.media == nil {
		return "", nil, fmt.Errorf("%w: image messages need the blob store, not enabled on this server", ErrUnsupportedType)
	}
	if err := h.checkMember(ctx, room, user); err != nil {
		return "", nil, err // nothing is stored for a room the sender is not in
	}
	if err := h.checkClientID(ctx, room, clientID, "image"); err != nil {
		return "", nil, err // nor for an id that names another message
	}
	canonical, err = h.media.PrepareSend(ctx, room, user, clientID, body)
	return "image", canonical, err
}

// checkClientID refuses a client id that already names a message of
// another type than typ in room (rcp_send refuses it too, but an image
// would be stored first).
func (h *STOMPHandler) checkClientID(ctx context.Context, room, clientID, typ string) error {
	if clientID == "" {
		return nil
	}
	prior, found, err := h.broker.ClientIDType(ctx, room, clientID)
	if err != nil {
		return h.brokerError(err, room)
	}
	if found && prior != "" && prior != typ {
		return clientIDUsed(broker.ErrClientIDUsed, "type "+prior)
	}
	return nil
}

// bodyRefusal is the ERROR of a SEND whose body was not accepted.
func (h *STOMPHandler) bodyRefusal(err error, room string) error {
	var refusal *stomp.Refusal
	switch {
	case errors.As(err, &refusal):
		return err
	case errors.Is(err, media.ErrBusy):
		return stomp.Refuse(err, msgServerBusy, "too many images in flight; retry later with the same x-client-id")
	case errors.Is(err, ErrBadJSON), errors.Is(err, ErrUnsupportedType), errors.Is(err, ErrTextTooLong),
		errors.Is(err, ErrEmptyText), media.IsInvalid(err):
		return stomp.Refuse(err, msgBadBody, err.Error())
	}
	h.log.Error("image not stored", "room", room, "err", err)
	return stomp.Refuse(err, msgTemporarilyDown, "the image store did not answer; retry with the same x-client-id")
}

// deliverable gives image entries their delivered body (URL, inline bytes);
// other entries are left alone. It rewrites page in place.
func deliverable(ctx context.Context, m *media.Service, page []broker.Entry, inline bool) {
	if m == nil {
		return
	}
	for i := range page {
		if page[i].Type == "image" {
			page[i].Body = m.Deliverable(ctx, page[i].Body, inline)
		}
	}
}
