package gateway_test

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rcp/rcp/gateway"
)

func TestCreateAndGetRoom(t *testing.T) {
	e := newEnv(t)
	preview := "sender"
	body := roomBody{ID: "order-42", Name: "Order #42 🍕", Kind: "o2o", Members: []string{"courier_7", "alice", "alice"},
		TextRetentionDays: 90, MediaRetentionDays: 30, PushPreview: &preview}
	before := time.Now().Add(-time.Second)

	r := e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), body)
	if loc := r.header.Get("Location"); loc != "/v1/rooms/order-42" {
		t.Errorf("Location = %q", loc)
	}
	created := decode[roomReply](t, r)
	if created.ID != "order-42" || created.Name != body.Name || created.Kind != "o2o" ||
		created.TextRetentionDays != 90 || created.MediaRetentionDays != 30 ||
		created.PushPreview == nil || *created.PushPreview != "sender" || created.ClosedAt != nil {
		t.Fatalf("created room = %+v", created)
	}
	if got, want := created.memberIDs(), []string{"alice", "courier_7"}; !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v (sorted, duplicates dropped)", got, want)
	}
	if created.CreatedAt.Before(before) || created.Members[0].Role != "member" || !created.Members[0].JoinedAt.Equal(created.CreatedAt) {
		t.Fatalf("times and roles: %+v", created)
	}

	got := decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/order-42", e.admin(), nil))
	if !reflect.DeepEqual(got, created) {
		t.Fatalf("GET = %+v\nPOST = %+v", got, created)
	}
	if rooms, members := e.rows(); rooms != 1 || members != 2 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 2", rooms, members)
	}
	e.must(http.StatusNotFound, "GET", "/v1/rooms/nope", e.admin(), nil)
}

func TestCreateWithoutIDChoosesOne(t *testing.T) {
	e := newEnv(t)
	body := group("")
	a := decode[roomReply](t, e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), body))
	b := decode[roomReply](t, e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), body))
	if a.ID == b.ID || !gateway.ValidRoomID(a.ID) || !gateway.ValidRoomID(b.ID) {
		t.Fatalf("server-chosen ids %q and %q: want two distinct valid ids", a.ID, b.ID)
	}
	if rooms, _ := e.rows(); rooms != 2 {
		t.Fatalf("%d rooms, want 2", rooms)
	}
}

func TestCreateIsIdempotentOnID(t *testing.T) {
	e := newEnv(t)
	first := decode[roomReply](t, e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g1", "bob", "alice")))

	// The same request again (members in another order, repeated): the same room.
	again := decode[roomReply](t, e.must(http.StatusOK, "POST", "/v1/rooms", e.admin(), group("g1", "alice", "bob", "alice")))
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("repeat create = %+v, want %+v", again, first)
	}

	// Still the same create after membership changed since.
	e.must(http.StatusCreated, "POST", "/v1/rooms/g1/members", e.admin(), map[string]string{"userId": "carol"})
	e.must(http.StatusOK, "POST", "/v1/rooms", e.admin(), group("g1", "alice", "bob"))

	for name, body := range map[string]roomBody{
		"other members":   group("g1", "alice"),
		"other name":      {ID: "g1", Name: "x", Kind: "group", Members: []string{"alice", "bob"}, TextRetentionDays: 30, MediaRetentionDays: 7},
		"other retention": {ID: "g1", Name: "Room g1", Kind: "group", Members: []string{"alice", "bob"}, TextRetentionDays: 31, MediaRetentionDays: 7},
	} {
		r := e.must(http.StatusConflict, "POST", "/v1/rooms", e.admin(), body)
		if r.errorCode() != "room_exists" {
			t.Errorf("%s: error %q, want room_exists", name, r.errorCode())
		}
	}
	if rooms, members := e.rows(); rooms != 1 || members != 3 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 3", rooms, members)
	}
}

func TestConcurrentIdempotentCreates(t *testing.T) {
	e := newEnv(t)
	const n = 12
	body := group("busy", "alice", "bob", "carol")
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { statuses <- e.do("POST", "/v1/rooms", e.admin(), body).status })
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusOK] != n-1 {
		t.Fatalf("statuses %v: want one 201 and %d 200", count, n-1)
	}
	if rooms, members := e.rows(); rooms != 1 || members != 3 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 3", rooms, members)
	}
}

func TestAddAndRemoveMember(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g", "alice"))

	m := decode[memberReply](t, e.must(http.StatusCreated, "POST", "/v1/rooms/g/members", e.admin(), map[string]string{"userId": "bob"}))
	if m.RoomID != "g" || m.UserID != "bob" || m.Role != "member" || time.Since(m.JoinedAt) > time.Minute {
		t.Fatalf("added member = %+v", m)
	}
	again := decode[memberReply](t, e.must(http.StatusOK, "POST", "/v1/rooms/g/members", e.admin(), map[string]string{"userId": "bob"}))
	if again != m {
		t.Fatalf("re-add = %+v, want the existing %+v", again, m)
	}
	room := decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/g", e.admin(), nil))
	if got := room.memberIDs(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("members = %v", got)
	}

	e.must(http.StatusNoContent, "DELETE", "/v1/rooms/g/members/bob", e.admin(), nil)
	e.must(http.StatusNoContent, "DELETE", "/v1/rooms/g/members/bob", e.admin(), nil) // idempotent
	room = decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/g", e.admin(), nil))
	if got := room.memberIDs(); !slices.Equal(got, []string{"alice"}) {
		t.Fatalf("members after remove = %v", got)
	}

	for _, r := range []response{
		e.do("POST", "/v1/rooms/ghost/members", e.admin(), map[string]string{"userId": "bob"}),
		e.do("DELETE", "/v1/rooms/ghost/members/bob", e.admin(), nil),
		e.do("POST", "/v1/rooms/ghost/close", e.admin(), nil),
	} {
		if r.status != http.StatusNotFound || r.errorCode() != "room_not_found" {
			t.Errorf("unknown room: %d %s, want 404 room_not_found", r.status, r.body)
		}
	}
	if rooms, members := e.rows(); rooms != 1 || members != 1 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 1", rooms, members)
	}
}

// TestConcurrentAddRemoveSameMember races adds and removes of one user: no
// request may fail, and the user is never in the room twice.
func TestConcurrentAddRemoveSameMember(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("race", "alice"))
	const workers, rounds = 8, 15
	token := e.admin()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		bad []string
	)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				var r response
				if (w+i)%2 == 0 {
					r = e.do("POST", "/v1/rooms/race/members", token, map[string]string{"userId": "bob"})
				} else {
					r = e.do("DELETE", "/v1/rooms/race/members/bob", token, nil)
				}
				if r.status != http.StatusOK && r.status != http.StatusCreated && r.status != http.StatusNoContent {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("%d %s", r.status, r.body))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d requests failed, e.g. %s", len(bad), workers*rounds, bad[0])
	}
	if _, members := e.rows(); members < 1 || members > 2 {
		t.Fatalf("%d member rows, want alice and at most one bob", members)
	}
	e.must(http.StatusOK, "POST", "/v1/rooms/race/members", e.admin(), map[string]string{"userId": "alice"})
	e.do("POST", "/v1/rooms/race/members", e.admin(), map[string]string{"userId": "bob"})
	if _, members := e.rows(); members != 2 {
		t.Fatalf("%d member rows after the race and a final add, want 2", members)
	}
}

func TestMemberLimitHoldsUnderConcurrency(t *testing.T) {
	e := newEnvWith(t, envConfig{memberLimit: 5})
	r := e.must(http.StatusUnprocessableEntity, "POST", "/v1/rooms", e.admin(), group("big", "a", "b", "c", "d", "e", "f"))
	if r.errorCode() != "member_limit" {
		t.Fatalf("error %q, want member_limit", r.errorCode())
	}
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g", "a", "b"))

	const adders = 12
	statuses := make(chan int, adders)
	var wg sync.WaitGroup
	for i := range adders {
		wg.Go(func() {
			statuses <- e.do("POST", "/v1/rooms/g/members", e.admin(), map[string]string{"userId": fmt.Sprintf("u%d", i)}).status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 3 || count[http.StatusUnprocessableEntity] != adders-3 {
		t.Fatalf("statuses %v: want three 201 and %d 422", count, adders-3)
	}
	if rooms, members := e.rows(); rooms != 1 || members != 5 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 5", rooms, members)
	}
}

func TestDirectRoomHasTwoMembers(t *testing.T) {
	e := newEnv(t)
	body := roomBody{ID: "dm", Kind: "direct", Members: []string{"alice", "bob"}}
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), body)
	r := e.must(http.StatusUnprocessableEntity, "POST", "/v1/rooms/dm/members", e.admin(), map[string]string{"userId": "carol"})
	if r.errorCode() != "member_limit" {
		t.Fatalf("third member of a direct room: %s", r.body)
	}
	body.ID, body.Members = "dm3", []string{"alice", "bob", "carol"}
	e.must(http.StatusBadRequest, "POST", "/v1/rooms", e.admin(), body)
	if rooms, members := e.rows(); rooms != 1 || members != 2 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 2", rooms, members)
	}
}

func TestCloseRoom(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("o", "alice", "bob"))
	closed := decode[roomReply](t, e.must(http.StatusOK, "POST", "/v1/rooms/o/close", e.admin(), nil))
	if closed.ClosedAt == nil || time.Since(*closed.ClosedAt) > time.Minute || len(closed.Members) != 2 {
		t.Fatalf("closed room = %+v", closed)
	}
	again := decode[roomReply](t, e.must(http.StatusOK, "POST", "/v1/rooms/o/close", e.admin(), nil))
	if again.ClosedAt == nil || !again.ClosedAt.Equal(*closed.ClosedAt) {
		t.Fatalf("second close moved closedAt: %v then %v", closed.ClosedAt, again.ClosedAt)
	}
	r := e.must(http.StatusConflict, "POST", "/v1/rooms/o/members", e.admin(), map[string]string{"userId": "carol"})
	if r.errorCode() != "room_closed" {
		t.Fatalf("add to closed room: %s", r.body)
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/rooms/o/members/bob", e.admin(), nil)
	got := decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/o", e.admin(), nil))
	if got.ClosedAt == nil || !got.ClosedAt.Equal(*closed.ClosedAt) || !slices.Equal(got.memberIDs(), []string{"alice"}) {
		t.Fatalf("room after close = %+v", got)
	}
}

func TestListUserRooms(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"r3", "r1", "r2"} {
		e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group(id, "alice", "bob"))
	}
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("other", "bob"))
	e.must(http.StatusOK, "POST", "/v1/rooms/r2/close", e.admin(), nil)

	type page struct {
		Rooms []struct {
			ID                 string     `json:"id"`
			Name               string     `json:"name"`
			Kind               string     `json:"kind"`
			TextRetentionDays  int        `json:"textRetentionDays"`
			MediaRetentionDays int        `json:"mediaRetentionDays"`
			PushPreview        *string    `json:"pushPreview"`
			CreatedAt          time.Time  `json:"createdAt"`
			ClosedAt           *time.Time `json:"closedAt"`
			Role               string     `json:"role"`
			JoinedAt           time.Time  `json:"joinedAt"`
		} `json:"rooms"`
		Next *string `json:"next"`
	}
	alice := e.token("alice") // no scope: her own rooms only
	p1 := decode[page](t, e.must(http.StatusOK, "GET", "/v1/users/alice/rooms?limit=2", alice, nil))
	if len(p1.Rooms) != 2 || p1.Rooms[0].ID != "r1" || p1.Rooms[1].ID != "r2" || p1.Next == nil || *p1.Next != "r2" {
		t.Fatalf("page 1 = %+v", p1)
	}
	if r := p1.Rooms[0]; r.Role != "member" || r.Name != "Room r1" || r.Kind != "group" || r.TextRetentionDays != 30 ||
		r.MediaRetentionDays != 7 || r.PushPreview != nil || r.ClosedAt != nil || r.JoinedAt.IsZero() || p1.Rooms[1].ClosedAt == nil {
		t.Fatalf("page 1 fields = %+v", p1)
	}
	p2 := decode[page](t, e.must(http.StatusOK, "GET", "/v1/users/alice/rooms?limit=2&after=r2", alice, nil))
	if len(p2.Rooms) != 1 || p2.Rooms[0].ID != "r3" || p2.Next != nil {
		t.Fatalf("page 2 = %+v", p2)
	}
	all := decode[page](t, e.must(http.StatusOK, "GET", "/v1/users/bob/rooms", e.admin(), nil))
	if len(all.Rooms) != 4 {
		t.Fatalf("bob's rooms as admin = %+v", all)
	}
	none := decode[page](t, e.must(http.StatusOK, "GET", "/v1/users/nobody/rooms", e.admin(), nil))
	if len(none.Rooms) != 0 || none.Next != nil {
		t.Fatalf("rooms of an unknown user = %+v", none)
	}
	r := e.must(http.StatusForbidden, "GET", "/v1/users/alice/rooms", e.token("bob"), nil)
	if r.errorCode() != "insufficient_scope" {
		t.Fatalf("bob lists alice's rooms: %s", r.body)
	}
}

// TestRoomAPIRequiresAdminScope: every admin endpoint answers 401 without a
// token and 403 with a token lacking rooms:admin, and writes nothing.
func TestRoomAPIRequiresAdminScope(t *testing.T) {
	e := newEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g", "alice"))
	calls := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/rooms", group("new", "alice")},
		{"GET", "/v1/rooms/g", nil},
		{"POST", "/v1/rooms/g/members", map[string]string{"userId": "bob"}},
		{"DELETE", "/v1/rooms/g/members/alice", nil},
		{"POST", "/v1/rooms/g/close", nil},
	}
	member := e.token("alice", "rooms:read", "chat")
	for _, c := range calls {
		r := e.do(c.method, c.path, "", c.body)
		if r.status != http.StatusUnauthorized || r.errorCode() != "missing_token" || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s without token: %d %s", c.method, c.path, r.status, r.body)
		}
		r = e.do(c.method, c.path, member, c.body)
		if r.status != http.StatusForbidden || r.errorCode() != "insufficient_scope" {
			t.Errorf("%s %s without rooms:admin: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	got := decode[roomReply](t, e.must(http.StatusOK, "GET", "/v1/rooms/g", e.admin(), nil))
	if got.ClosedAt != nil || !slices.Equal(got.memberIDs(), []string{"alice"}) {
		t.Fatalf("room changed by refused calls: %+v", got)
	}
	if rooms, members := e.rows(); rooms != 1 || members != 1 {
		t.Fatalf("rows: %d rooms, %d members; want 1, 1", rooms, members)
	}
}
