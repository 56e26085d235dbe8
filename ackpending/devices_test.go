package ackpending_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rcp/rcp/ackpending"
)

func tokensOf(t *testing.T, e *env, user string) []string {
	t.Helper()
	m, err := e.devices.Tokens(t.Context(), []string{user})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range m[user] {
		out = append(out, d.Token+"/"+d.Platform)
	}
	slices.Sort(out)
	return out
}

func TestDevicesStoredAndCached(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	ctx := t.Context()
	created, err := e.devices.Register(ctx, "bob", "tok-a", "android")
	if err != nil || !created {
		t.Fatalf("register: %v %v", created, err)
	}
	if created, _ = e.devices.Register(ctx, "bob", "tok-a", "android"); created {
		t.Fatal("re-registering reported created")
	}
	e.device("bob", "tok-b")
	if got := tokensOf(t, e, "bob"); !slices.Equal(got, []string{"tok-a/android", "tok-b/android"}) {
		t.Fatalf("tokens %v", got)
	}
	key := ackpending.DevicesKey(e.prefix, "bob")
	if h := e.rdb.HGetAll(ctx, key).Val(); h["~loaded"] != "1" || h["tok-a"] != "android" {
		t.Fatalf("cache %v", h)
	}
	// A cache lost (or expired) is refilled from MySQL.
	e.rdb.Del(ctx, key)
	if got := tokensOf(t, e, "bob"); len(got) != 2 {
		t.Fatalf("after cache loss %v", got)
	}
	// A token registered by another user moves to them.
	if created, err = e.devices.Register(ctx, "carol", "tok-a", "ios"); err != nil || !created {
		t.Fatalf("move: %v %v", created, err)
	}
	if got := tokensOf(t, e, "bob"); !slices.Equal(got, []string{"tok-b/android"}) {
		t.Fatalf("bob after the move %v", got)
	}
	if got := tokensOf(t, e, "carol"); !slices.Equal(got, []string{"tok-a/ios"}) {
		t.Fatalf("carol %v", got)
	}
	// Unregister: only one's own token.
	if ok, err := e.devices.Unregister(ctx, "bob", "tok-a"); err != nil || ok {
		t.Fatalf("bob unregistered carol's token: %v %v", ok, err)
	}
	if ok, err := e.devices.Unregister(ctx, "carol", "tok-a"); err != nil || !ok {
		t.Fatalf("unregister: %v %v", ok, err)
	}
	if got := tokensOf(t, e, "carol"); len(got) != 0 {
		t.Fatalf("carol %v", got)
	}
	if err := e.devices.Remove(ctx, "bob", "tok-b"); err != nil {
		t.Fatal(err)
	}
	if got := tokensOf(t, e, "bob"); len(got) != 0 {
		t.Fatalf("bob %v", got)
	}
}

func TestDevicesKeepTheNewestPerUser(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	for i := range 12 {
		e.device("bob", "tok-"+itoa(i))
		time.Sleep(2 * time.Millisecond) // distinct updated_at
	}
	got := tokensOf(t, e, "bob")
	if len(got) != 10 || slices.Contains(got, "tok-0/android") || slices.Contains(got, "tok-1/android") {
		t.Fatalf("tokens %v, want the 10 newest", got)
	}
}

func TestDevicesRefuseBadInput(t *testing.T) {
	e := newEnv(t, time.Second, 4)
	for _, tc := range []struct {
		token, platform string
		want            error
	}{
		{"", "android", ackpending.ErrInvalidToken},
		{"has space", "android", ackpending.ErrInvalidToken},
		{"~loaded", "android", ackpending.ErrInvalidToken},
		{string(make([]byte, 513)), "android", ackpending.ErrInvalidToken},
		{"tok", "symbian", ackpending.ErrInvalidPlatform},
		{"tok", "", ackpending.ErrInvalidPlatform},
	} {
		if _, err := e.devices.Register(t.Context(), "bob", tc.token, tc.platform); !errors.Is(err, tc.want) {
			t.Errorf("Register(%.20q, %q) = %v, want %v", tc.token, tc.platform, err, tc.want)
		}
	}
}
