package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/ackpending/fcmtest"
)

// TestPushThroughRcpd runs two rcpd processes configured by the push
// environment (RCP_FCM_CREDENTIALS, RCP_FCM_ENDPOINT, RCP_OFFLINE_GRACE,
// RCP_ACK_TIMEOUT, RCP_PRESENCE_TTL) against an FCM emulator: bob is
// online on node 1 and does not ACK, so nothing is pushed before the ack
// timeout; node 1 is SIGKILLed, bob's presence expires, and node 2 pushes
// the message exactly once.
func TestPushThroughRcpd(t *testing.T) {
	emu := fcmtest.New(t)
	e := newEnv(t)
	e.Extra = []string{"RCP_FCM_CREDENTIALS=" + emu.ServiceAccountFile(t, t.TempDir()),
		"RCP_FCM_ENDPOINT=" + emu.Endpoint(), "RCP_OFFLINE_GRACE=1s", "RCP_ACK_TIMEOUT=30s", "RCP_PRESENCE_TTL=2s"}
	n1, n2 := e.start(), e.start()
	n1.createRoom("r1", "alice", "bob")
	body, _ := json.Marshal(map[string]string{"token": "tok-bob", "platform": "android"})
	req, _ := http.NewRequest("POST", "http://"+n2.Addr+"/v1/devices", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token(t, "bob"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("register device: %d", resp.StatusCode)
	}

	bob, alice := n1.connect("bob"), n2.connect("alice")
	sub, err := bob.Subscribe("/topic/rooms/r1", gostomp.AckClient)
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.Send("/app/rooms/r1", "application/json", textBody("hi bob"), gostomp.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	recv(t, sub) // delivered, not acknowledged
	time.Sleep(2 * time.Second)
	if n := len(emu.Requests()); n != 0 {
		t.Fatalf("%d pushes while bob is online within the ack timeout", n)
	}
	killed := time.Now()
	n1.Kill(syscall.SIGKILL)
	got := emu.WaitAccepted(t, 1, 10*time.Second)
	t.Logf("pushed %v after node 1 was killed (presence TTL 2s)", got[0].At.Sub(killed).Round(time.Millisecond))
	if d := got[0].Message.Data; got[0].Message.Token != "tok-bob" || d["room"] != "r1" || d["sender"] != "alice" || d["count"] != "1" {
		t.Fatalf("push %+v", got[0].Message)
	}
	time.Sleep(2 * time.Second)
	if n := len(emu.Requests()); n != 1 {
		t.Fatalf("%d pushes, want 1", n)
	}
	mresp, err := http.Get("http://" + n2.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer mresp.Body.Close()
	raw, _ := io.ReadAll(mresp.Body)
	if !strings.Contains(string(raw), "\nrcp_push_sent_total 1\n") {
		t.Fatalf("node 2 metrics lack rcp_push_sent_total 1:\n%s", grepLines(string(raw), "rcp_push"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
