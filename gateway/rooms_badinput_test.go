package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBadInputIsRefusedAndWritesNothing sends malformed, oversized and
// invalid requests to every endpoint: each gets its 4xx with a JSON error,
// and the database keeps exactly the one room and member it had.
func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g", "alice"))
	long := strings.Repeat("a", 300)
	valid := `"name":"n","kind":"group","members":["bob"],"textRetentionDays":1,"mediaRetentionDays":1`
	oneMB := `{"id":"big",` + valid + `,"pad":"` + strings.Repeat("x", 1<<20) + `"}`
	members := func(n, width int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%0*d", width, i)
		}
		return `{"id":"many","kind":"group","textRetentionDays":1,"mediaRetentionDays":1,"members":["` +
			strings.Join(ids, `","`) + `"]}`
	}

	cases := []struct {
		name, method, path string
		contentType        string
		body               string
		status             int
		code               string
	}{
		{"malformed JSON", "POST", "/v1/rooms", "", `{"id":"x",`, 400, "invalid_json"},
		{"not an object", "POST", "/v1/rooms", "", `["x"]`, 400, "invalid_json"},
		{"empty body", "POST", "/v1/rooms", "", ``, 400, "invalid_json"},
		{"unknown field", "POST", "/v1/rooms", "", `{"id":"x",` + valid + `,"owner":"mallory"}`, 400, "invalid_json"},
		{"two JSON values", "POST", "/v1/rooms", "", `{"id":"x",` + valid + `}{"id":"y"}`, 400, "invalid_json"},
		{"trailing garbage", "POST", "/v1/rooms", "", `{"id":"x",` + valid + `} x`, 400, "invalid_json"},
		{"1 MB body", "POST", "/v1/rooms", "", oneMB, 413, "body_too_large"},
		{"2100 members of 128 chars", "POST", "/v1/rooms", "", members(2100, 128), 413, "body_too_large"},
		{"1001 members", "POST", "/v1/rooms", "", members(1001, 8), 422, "member_limit"},
		{"wrong content type", "POST", "/v1/rooms", "text/plain", `{"id":"x",` + valid + `}`, 415, "unsupported_media_type"},
		{"form content type", "POST", "/v1/rooms", "application/x-www-form-urlencoded", `id=x`, 415, "unsupported_media_type"},
		{"id path traversal", "POST", "/v1/rooms", "", `{"id":"../../etc",` + valid + `}`, 400, "invalid_room_id"},
		{"id unicode", "POST", "/v1/rooms", "", `{"id":"café",` + valid + `}`, 400, "invalid_room_id"},
		{"id 300 chars", "POST", "/v1/rooms", "", `{"id":"` + long + `",` + valid + `}`, 400, "invalid_room_id"},
		{"id empty", "POST", "/v1/rooms", "", `{"id":"",` + valid + `}`, 400, "invalid_room_id"},
		{"id with Redis hash tag", "POST", "/v1/rooms", "", `{"id":"{p1}",` + valid + `}`, 400, "invalid_room_id"},
		{"id a number", "POST", "/v1/rooms", "", `{"id":42,` + valid + `}`, 400, "invalid_json"},
		{"unknown kind", "POST", "/v1/rooms", "", `{"id":"x","kind":"channel","members":[],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"missing kind", "POST", "/v1/rooms", "", `{"id":"x","members":[],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"missing members", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"missing retention", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[]}`, 400, "invalid_room"},
		{"negative retention", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[],"textRetentionDays":-1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"fractional retention", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[],"textRetentionDays":1.5,"mediaRetentionDays":1}`, 400, "invalid_json"},
		{"huge retention", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[],"textRetentionDays":1e30,"mediaRetentionDays":1}`, 400, "invalid_json"},
		{"retention over 100 years", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[],"textRetentionDays":36501,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"member not a user id", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":["bob","ev il"],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"member 129 chars", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":["` + strings.Repeat("u", 129) + `"],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"members not strings", "POST", "/v1/rooms", "", `{"id":"x","kind":"group","members":[1],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_json"},
		{"direct with three", "POST", "/v1/rooms", "", `{"id":"x","kind":"direct","members":["a","b","c"],"textRetentionDays":1,"mediaRetentionDays":1}`, 400, "invalid_room"},
		{"name too long", "POST", "/v1/rooms", "", `{"id":"x","name":"` + strings.Repeat("é", 201) + `",` + valid[11:] + `}`, 400, "invalid_room"},
		{"name with control char", "POST", "/v1/rooms", "", `{"id":"x","name":"a\u0000b",` + valid[11:] + `}`, 400, "invalid_room"},
		{"unknown push preview", "POST", "/v1/rooms", "", `{"id":"x",` + valid + `,"pushPreview":"full"}`, 400, "invalid_room"},
		{"empty push preview", "POST", "/v1/rooms", "", `{"id":"x",` + valid + `,"pushPreview":""}`, 400, "invalid_room"},

		{"path traversal in path", "GET", "/v1/rooms/..%2f..", "", "", 400, "invalid_room_id"},
		{"encoded dot-dot", "POST", "/v1/rooms/%2e%2e/close", "", "", 400, "invalid_room_id"},
		{"unicode room in path", "POST", "/v1/rooms/caf%C3%A9/members", "", `{"userId":"bob"}`, 400, "invalid_room_id"},
		{"300-char room in path", "GET", "/v1/rooms/" + long, "", "", 400, "invalid_room_id"},
		{"slash in room id", "DELETE", "/v1/rooms/g%2fx/members/alice", "", "", 400, "invalid_room_id"},
		{"add member: bad user id", "POST", "/v1/rooms/g/members", "", `{"userId":"../bob"}`, 400, "invalid_user_id"},
		{"add member: missing user id", "POST", "/v1/rooms/g/members", "", `{}`, 400, "invalid_user_id"},
		{"add member: unknown field", "POST", "/v1/rooms/g/members", "", `{"userId":"bob","role":"admin"}`, 400, "invalid_json"},
		{"add member: malformed", "POST", "/v1/rooms/g/members", "", `{"userId":`, 400, "invalid_json"},
		{"add member: 1 MB", "POST", "/v1/rooms/g/members", "", `{"userId":"` + strings.Repeat("b", 1<<20) + `"}`, 413, "body_too_large"},
		{"add member: wrong type", "POST", "/v1/rooms/g/members", "text/plain", `{"userId":"bob"}`, 415, "unsupported_media_type"},
		{"remove member: bad user id", "DELETE", "/v1/rooms/g/members/al%20ice", "", "", 400, "invalid_user_id"},
		{"list: bad user id", "GET", "/v1/users/%F0%9F%98%80/rooms", "", "", 400, "invalid_user_id"},
		{"list: bad limit", "GET", "/v1/users/alice/rooms?limit=0", "", "", 400, "invalid_limit"},
		{"list: huge limit", "GET", "/v1/users/alice/rooms?limit=100000", "", "", 400, "invalid_limit"},
		{"list: bad cursor", "GET", "/v1/users/alice/rooms?after=../x", "", "", 400, "invalid_cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			var body any
			if c.method == "POST" {
				body = c.body
			}
			r := e.doRaw(c.method, c.path, e.admin(), ct, body)
			if r.status != c.status || r.errorCode() != c.code || r.errorMessage() == "" {
				t.Fatalf("%d %.300s\nwant %d %s with a message", r.status, r.body, c.status, c.code)
			}
			if rooms, members := e.rows(); rooms != 1 || members != 1 {
				t.Fatalf("database changed: %d rooms, %d members; want 1, 1", rooms, members)
			}
		})
	}
	room := decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/g", e.admin(), nil))
	if room.ClosedAt != nil || len(room.Members) != 1 {
		t.Fatalf("room g changed: %+v", room)
	}
}
