package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
)

// errorBody is every 4xx/5xx body of the REST API.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// writeError answers status with {"error": code, "message": msg}.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

// writeInternal answers 500 and logs err as what, with the request's method
// and path; a client that went away gets nothing and is not logged.
func writeInternal(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return
	}
	log.ErrorContext(r.Context(), what, "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error; see the server log")
}

// requestError is a refused request body: its status, code and message go
// to the client as they are.
type requestError struct {
	status int
	code   string
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(code, format string, args ...any) *requestError {
	return &requestError{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

// decodeJSON reads exactly one JSON object into dst: the content type must
// be JSON, the body at most limit bytes, and unknown fields are refused.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) *requestError {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the body as Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, limit)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err != nil {
			if e := jsonError(err, limit); e.status == http.StatusRequestEntityTooLarge {
				return e
			}
		}
		return badRequest("invalid_json", "the body must hold exactly one JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a client-facing one.
func jsonError(err error, limit int64) *requestError {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return &requestError{http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the body exceeds %d bytes", limit)}
	case errors.Is(err, io.EOF):
		return badRequest("invalid_json", "the body is empty")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "the body is not valid JSON")
	case errors.As(err, &typ):
		return badRequest("invalid_json", "field %q must be a JSON %s", typ.Field, jsonKind(typ.Type.Kind()))
	default:
		// DisallowUnknownFields: `json: unknown field "x"`; the message is ours to show.
		return badRequest("invalid_json", "%s", err.Error())
	}
}

// jsonKind names the JSON type a Go kind decodes from.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Float32, reflect.Float64:
		return "number"
	default:
		return "integer in range"
	}
}
