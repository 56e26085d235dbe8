package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/rcp/rcp/broker"
	"github.com/rcp/rcp/media"
)

// UploadAPI is POST /v1/uploads: an image stored ahead of the SEND that
// references its key (docs/blobs.md).
type UploadAPI struct {
	media    *media.Service
	broker   *broker.Broker
	verifier *Verifier
	log      *slog.Logger
}

// NewUploadAPI returns the upload endpoint.
func NewUploadAPI(m *media.Service, b *broker.Broker, verifier *Verifier, log *slog.Logger) *UploadAPI {
	if log == nil {
		log = slog.Default()
	}
	return &UploadAPI{media: m, broker: b, verifier: verifier, log: log}
}

// Register adds the endpoint to mux.
func (a *UploadAPI) Register(mux *http.ServeMux) {
	mux.Handle("POST /v1/uploads", a.verifier.Authenticate(http.HandlerFunc(a.upload)))
}

// multipartSlack is what a multipart envelope may add to the image bytes.
const multipartSlack = 64 << 10

// upload takes ?room=ID[&name=N] and the image as the raw body (any
// Content-Type) or as the part "file" of a multipart/form-data body.
func (a *UploadAPI) upload(w http.ResponseWriter, r *http.Request) {
	room, name := r.URL.Query().Get("room"), r.URL.Query().Get("name")
	if !ValidRoomID(room) {
		writeError(w, http.StatusBadRequest, "invalid_room_id", "query parameter room: "+roomIDRule)
		return
	}
	p, _ := PrincipalFrom(r.Context())
	if ok, err := a.broker.IsMember(r.Context(), room, p.UserID); err != nil {
		a.internal(w, r, err)
		return
	} else if !ok {
		writeError(w, http.StatusForbidden, "not_member", "not a member of the room")
		return
	}
	limit := a.media.Config().Limits.MaxBytes
	body := http.MaxBytesReader(w, r.Body, limit+multipartSlack)
	src, size, partName, err := uploadSource(r, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_multipart", err.Error())
		return
	}
	if name == "" {
		name = partName
	}
	img, err := a.media.Upload(r.Context(), room, p.UserID, name, src, size)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, img)
}

// uploadSource finds the image bytes: the part "file" of a multipart body
// (its file name is the default name), else the body itself (size is the
// declared length, -1 when unknown).
func uploadSource(r *http.Request, body io.Reader) (io.Reader, int64, string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return body, r.ContentLength, "", nil
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, 0, "", errors.New(`multipart body has no part named "file"`)
		}
		if err != nil {
			return nil, 0, "", fmt.Errorf("multipart body: %w", err)
		}
		if part.FormName() == "file" {
			return part, -1, baseName(part.FileName()), nil
		}
	}
}

// refuse maps the media errors to HTTP answers.
func (a *UploadAPI) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, media.ErrTooLarge), errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large",
			fmt.Sprintf("images are at most %d bytes", a.media.Config().Limits.MaxBytes))
	case errors.Is(err, media.ErrNotImage):
		writeError(w, http.StatusUnsupportedMediaType, "not_an_image", err.Error())
	case errors.Is(err, media.ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", err.Error())
	case media.IsInvalid(err):
		writeError(w, http.StatusBadRequest, "invalid_image", err.Error())
	default:
		a.internal(w, r, err)
	}
}

func (a *UploadAPI) internal(w http.ResponseWriter, r *http.Request, err error) {
	writeInternal(w, r, a.log, "upload API", err)
}

// baseName drops the directories some browsers put before a file name
// ("C:\\fakepath\\a.png"); the name is then checked like any other.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}
