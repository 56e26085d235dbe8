package fcmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// statusNames are the google.rpc status names of HTTP statuses.
var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

// Abandoned is the Status of a request whose client went away before the
// emulator answered (a held request of a killed node).
const Abandoned = -1

func (e *Emulator) send(w http.ResponseWriter, r *http.Request) {
	project, ok := strings.CutSuffix(r.PathValue("rest"), "/messages:send")
	if !ok {
		http.NotFound(w, r)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body struct {
		Message Message `json:"message"`
	}
	_ = json.Unmarshal(raw, &body)
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	e.mu.Lock()
	authorized := e.tokens[auth]
	i := len(e.requests)
	e.requests = append(e.requests, Request{At: time.Now(), Project: project, Message: body.Message, Raw: raw})
	e.mu.Unlock()

	reply := Error("UNAUTHENTICATED")
	if authorized {
		reply = e.next(body.Message.Token)
	}
	status := e.answer(w, r, reply, project)
	e.mu.Lock()
	e.requests[i].Status = status
	close(e.changed)
	e.changed = make(chan struct{})
	e.mu.Unlock()
}

// answer waits as the reply says, then writes it; it returns the status
// written, or Abandoned.
func (e *Emulator) answer(w http.ResponseWriter, r *http.Request, reply Reply, project string) int {
	if reply.Hold != nil {
		select {
		case <-reply.Hold:
		case <-r.Context().Done():
			return Abandoned
		}
	}
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return Abandoned
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Status == 0 || reply.Status == 200 {
		e.mu.Lock()
		n := len(e.requests)
		e.mu.Unlock()
		fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, project, n)
		return 200
	}
	w.WriteHeader(reply.Status)
	details := "[]"
	if reply.Code != "" && reply.Code != "UNAUTHENTICATED" && reply.Code != "PERMISSION_DENIED" {
		details = fmt.Sprintf(`[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}]`, reply.Code)
	}
	fmt.Fprintf(w, `{"error":{"code":%d,"message":"emulated %s","status":%q,"details":%s}}`,
		reply.Status, reply.Code, statusNames[reply.Status], details)
	return reply.Status
}

// Requests returns every send request so far, answered or not.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

// Accepted returns the requests answered 200.
func (e *Emulator) Accepted() []Request {
	var out []Request
	for _, r := range e.Requests() {
		if r.Status == 200 {
			out = append(out, r)
		}
	}
	return out
}

// WaitFor waits until cond holds for the recorded requests, failing the
// test after timeout; it returns the requests that satisfied it.
func (e *Emulator) WaitFor(t testing.TB, timeout time.Duration, what string, cond func([]Request) bool) []Request {
	t.Helper()
	deadline := time.After(timeout)
	for {
		e.mu.Lock()
		reqs := append([]Request(nil), e.requests...)
		changed := e.changed
		e.mu.Unlock()
		if cond(reqs) {
			return reqs
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("fcm emulator: %s not within %v; %d requests: %s", what, timeout, len(reqs), summary(reqs))
			return nil
		}
	}
}

// WaitAccepted waits until n requests were answered 200.
func (e *Emulator) WaitAccepted(t testing.TB, n int, timeout time.Duration) []Request {
	t.Helper()
	e.WaitFor(t, timeout, fmt.Sprintf("%d accepted", n), func(rs []Request) bool {
		return countStatus(rs, 200) >= n
	})
	return e.Accepted()
}

func countStatus(rs []Request, status int) int {
	n := 0
	for _, r := range rs {
		if r.Status == status {
			n++
		}
	}
	return n
}

func summary(rs []Request) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 20 {
			fmt.Fprintf(&b, " …")
			break
		}
		fmt.Fprintf(&b, " [%s %s %d]", r.Message.Token, r.Message.Data["room"], r.Status)
	}
	return b.String()
}
