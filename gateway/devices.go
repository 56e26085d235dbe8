package gateway

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/rcp/rcp/ackpending"
)

// maxDeviceBodyBytes bounds a device registration body.
const maxDeviceBodyBytes = 4 << 10

// DeviceAPI serves POST /v1/devices and DELETE /v1/devices/{token}: a user
// registers and unregisters the FCM tokens of their own devices (bearer
// token of the user; no scope needed).
type DeviceAPI struct {
	devices  *ackpending.Devices
	verifier *Verifier
	logger   *slog.Logger
}

// NewDeviceAPI returns the device endpoints on store d.
func NewDeviceAPI(d *ackpending.Devices, v *Verifier, logger *slog.Logger) *DeviceAPI {
	if logger == nil {
		logger = slog.Default()
	}
	return &DeviceAPI{devices: d, verifier: v, logger: logger}
}

// Register adds the device endpoints to mux.
func (a *DeviceAPI) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/devices", a.verifier.Authenticate(http.HandlerFunc(a.register)))
	mux.Handle("DELETE /v1/devices/{token}", a.verifier.Authenticate(http.HandlerFunc(a.unregister)))
}

// deviceRequest is the body of POST /v1/devices (and of SEND /app/devices).
type deviceRequest struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
	Delete   bool   `json:"delete,omitempty"`
}

// deviceResponse is a registered device.
type deviceResponse struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
	UserID   string `json:"userId"`
}

func (a *DeviceAPI) register(w http.ResponseWriter, r *http.Request) {
	var req deviceRequest
	if e := decodeJSON(w, r, maxDeviceBodyBytes, &req); e != nil {
		writeError(w, e.status, e.code, e.msg)
		return
	}
	if req.Delete {
		writeError(w, http.StatusBadRequest, "invalid_json", `"delete" is for SEND /app/devices; use DELETE /v1/devices/{token}`)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	created, err := a.devices.Register(r.Context(), p.UserID, req.Token, req.Platform)
	if err != nil {
		a.deviceError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.logger.InfoContext(r.Context(), "device registered", "user", p.UserID, "platform", req.Platform)
	}
	writeJSON(w, status, deviceResponse{Token: req.Token, Platform: req.Platform, UserID: p.UserID})
}

func (a *DeviceAPI) unregister(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if err := ackpending.ValidateDevice(token, "android"); err != nil {
		a.deviceError(w, r, err)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if _, err := a.devices.Unregister(r.Context(), p.UserID, token); err != nil {
		a.deviceError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *DeviceAPI) deviceError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ackpending.ErrInvalidToken):
		writeError(w, http.StatusBadRequest, "invalid_token", unwrapDetail(err, ackpending.ErrInvalidToken))
	case errors.Is(err, ackpending.ErrInvalidPlatform):
		writeError(w, http.StatusBadRequest, "invalid_platform", unwrapDetail(err, ackpending.ErrInvalidPlatform))
	default:
		writeInternal(w, r, a.logger, "device API", err)
	}
}
