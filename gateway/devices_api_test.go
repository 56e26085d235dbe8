package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func errCode(t *testing.T, raw []byte) string {
	t.Helper()
	var b struct{ Error, Message string }
	if err := json.Unmarshal(raw, &b); err != nil || b.Message == "" {
		t.Fatalf("error body %s: %v", raw, err)
	}
	return b.Error
}

func (e *pushEnv) tokens(user string) []string {
	e.t.Helper()
	m, err := e.devices.Tokens(e.t.Context(), []string{user})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range m[user] {
		out = append(out, d.Token)
	}
	slices.Sort(out)
	return out
}

func TestDeviceAPI(t *testing.T) {
	e := newPushEnv(t, time.Second, 30*time.Second)
	reg := map[string]string{"token": "tok-1", "platform": "ios"}
	code, raw := e.api("POST", "/v1/devices", "bob", reg)
	var dev struct{ Token, Platform, UserID string }
	if err := json.Unmarshal(raw, &dev); code != 201 || err != nil || dev.Token != "tok-1" || dev.Platform != "ios" || dev.UserID != "bob" {
		t.Fatalf("register: %d %s", code, raw)
	}
	if code, _ = e.api("POST", "/v1/devices", "bob", reg); code != 200 {
		t.Fatalf("register again: %d, want 200", code)
	}
	e.device("bob", "tok-2")
	if got := e.tokens("bob"); !slices.Equal(got, []string{"tok-1", "tok-2"}) {
		t.Fatalf("tokens %v", got)
	}
	// Deleting someone else's token does nothing (and says nothing).
	if code, _ = e.api("DELETE", "/v1/devices/tok-1", "carol", nil); code != 204 {
		t.Fatalf("delete by another user: %d", code)
	}
	if code, _ = e.api("DELETE", "/v1/devices/tok-1", "bob", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if got := e.tokens("bob"); !slices.Equal(got, []string{"tok-2"}) {
		t.Fatalf("tokens after delete %v", got)
	}
	if code, _ = e.api("DELETE", "/v1/devices/tok-1", "bob", nil); code != 204 {
		t.Fatalf("delete again: %d, want 204 (idempotent)", code)
	}
}

func TestDeviceAPIRefusals(t *testing.T) {
	e := newPushEnv(t, time.Second, 30*time.Second)
	for _, tc := range []struct {
		name, method, path, user string
		body                     any
		status                   int
		code                     string
	}{
		{"no token", "POST", "/v1/devices", "", map[string]string{"token": "t", "platform": "android"}, 401, "missing_token"},
		{"bad token", "POST", "/v1/devices", "bob", map[string]string{"token": "a b", "platform": "android"}, 400, "invalid_token"},
		{"long token", "POST", "/v1/devices", "bob", map[string]string{"token": strings.Repeat("x", 513), "platform": "android"}, 400, "invalid_token"},
		{"bad platform", "POST", "/v1/devices", "bob", map[string]string{"token": "t", "platform": "palm"}, 400, "invalid_platform"},
		{"unknown field", "POST", "/v1/devices", "bob", map[string]string{"token": "t", "platform": "web", "x": "1"}, 400, "invalid_json"},
		{"delete flag", "POST", "/v1/devices", "bob", map[string]any{"token": "t", "delete": true}, 400, "invalid_json"},
		{"bad path token", "DELETE", "/v1/devices/a%20b", "bob", nil, 400, "invalid_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := e.api(tc.method, tc.path, tc.user, tc.body)
			if status != tc.status || errCode(t, raw) != tc.code {
				t.Fatalf("%d %s, want %d %s", status, raw, tc.status, tc.code)
			}
		})
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/devices", strings.NewReader(`{"token":"t","platform":"web"}`))
	req.Header.Set("Authorization", "Bearer "+mint(t, "bob"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Fatalf("text/plain: %d, want 415", resp.StatusCode)
	}
	if got := e.tokens("bob"); len(got) != 0 {
		t.Fatalf("refused requests stored %v", got)
	}
}

// TestPreviewPolicyPerRoom: rooms.push_preview decides what a notification
// shows; without it the global default (sender) applies.
func TestPreviewPolicyPerRoom(t *testing.T) {
	e := newPushEnv(t, 300*time.Millisecond, 30*time.Second)
	none, text := "none", "text"
	e.room("quiet", &none, "alice", "bob")
	e.room("chatty", &text, "alice", "carol")
	e.room("plain", nil, "alice", "dave")
	for _, u := range []string{"bob", "carol", "dave"} {
		e.device(u, "tok-"+u)
	}
	alice := e.connect("alice")
	long := strings.Repeat("é", 150)
	sendText(t, alice, "quiet", "secret")
	sendText(t, alice, "chatty", long)
	sendText(t, alice, "plain", "hello")
	got := e.emu.WaitAccepted(t, 3, 5*time.Second)
	by := map[string]map[string]string{}
	titles := map[string][2]string{}
	for _, r := range got {
		by[r.Message.Token] = r.Message.Data
		titles[r.Message.Token] = [2]string{r.Message.Notification.Title, r.Message.Notification.Body}
	}
	if d := by["tok-bob"]; d["sender"] != "" || d["text"] != "" || titles["tok-bob"] != [2]string{"New messages", "1 new message"} {
		t.Fatalf("none: %v %v", d, titles["tok-bob"])
	}
	want := strings.Repeat("é", 99) + "…"
	if d := by["tok-carol"]; d["sender"] != "alice" || d["text"] != want || titles["tok-carol"] != [2]string{"alice", want} {
		t.Fatalf("text: %v %v", d, titles["tok-carol"])
	}
	if d := by["tok-dave"]; d["sender"] != "alice" || d["text"] != "" || titles["tok-dave"] != [2]string{"alice", "1 new message"} {
		t.Fatalf("sender (default): %v %v", d, titles["tok-dave"])
	}
}
