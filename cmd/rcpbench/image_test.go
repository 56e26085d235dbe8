package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rcp/rcp/media"
)

// TestImageBodies: the image SEND body is what the server accepts, and the
// id and send time come back from its name, as they would from a delivery.
func TestImageBodies(t *testing.T) {
	ib, err := newImageBodies(100_000)
	if err != nil {
		t.Fatal(err)
	}
	if ib.size < 90_000 || ib.size > 110_000 {
		t.Fatalf("image of %d bytes, asked about 100,000", ib.size)
	}
	body := ib.body(42, 1234567)
	req, err := media.ParseImageSend(body, media.DefaultLimits())
	if err != nil {
		t.Fatalf("server refuses the body: %v", err)
	}
	if info, err := media.Inspect(req.Data, media.DefaultLimits()); err != nil || info.ContentType != "image/png" {
		t.Fatalf("image: %+v, %v", info, err)
	}
	delivered, _ := json.Marshal(map[string]any{"type": "image", "image": map[string]any{"key": "k", "name": req.Name, "data": req.Data}})
	if id, ns, ok := parseBody(delivered); !ok || id != 42 || ns != 1234567 {
		t.Fatalf("parseBody of a delivered image: %d %d %v", id, ns, ok)
	}
	if id, ns, ok := parseBody(makeBody(7, 99, 64)); !ok || id != 7 || ns != 99 {
		t.Fatalf("parseBody of a text: %d %d %v", id, ns, ok)
	}
}

// TestImagesAgainstRcpd: the image SEND mode delivers every image to every
// member, and the upload mode reports only successful uploads, against a
// real rcpd with a disk blob store.
func TestImagesAgainstRcpd(t *testing.T) {
	blobs := t.TempDir()
	s := startRcpd(t, "RCP_BLOB_DIR="+blobs, "RCP_BLOB_URL_SECRET=rcpbench-test-secret-0123")
	rep := runBench(t, s, "--run-id", "img", "--rooms", "2", "--members", "2", "--messages", "8",
		"--rate", "0", "--duration", "20s", "--window", "2", "--image-bytes", "20000")
	if rep.Sent != 8 || rep.Receipted != 8 || rep.Delivered != 16 || rep.Lost != 0 || rep.Unexpected != 0 || len(rep.Errors) != 0 {
		t.Fatalf("image run: sent %d receipted %d delivered %d lost %d unexpected %d errors %v\nrcpd:\n%s",
			rep.Sent, rep.Receipted, rep.Delivered, rep.Lost, rep.Unexpected, rep.Errors, s.log)
	}
	var out strings.Builder
	err := run(t.Context(), []string{"--url", "ws://" + s.addr + "/ws", "--jwt-secret", testSecret, "--quiet",
		"--run-id", "up", "--uploads", "2", "--image-bytes", "20000", "--duration", "1s"}, &out)
	if err != nil {
		t.Fatalf("uploads: %v\nrcpd:\n%s", err, s.log)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var up uploadReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &up); err != nil {
		t.Fatalf("upload report: %v\n%s", err, out.String())
	}
	if up.OK < 2 || len(up.Failed) != 0 || up.MBPerSec <= 0 || int64(up.Latency.Count) != up.OK {
		t.Fatalf("upload report %+v", up)
	}
}
