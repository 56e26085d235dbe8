package main

import (
	"encoding/json"
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
