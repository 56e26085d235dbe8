package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/stomp"
)

// imageRefusal sends body to room as user on a fresh connection, expects an
// ERROR answering it, and that the server then closes the connection.
func imageRefusal(t *testing.T, n *node, user, room string, body []byte, kv ...string) *stomp.Frame {
	t.Helper()
	c := n.rawConnect(user)
	defer c.close()
	const id = "refused"
	answer := make(chan *stomp.Frame, 1)
	c.mu.Lock()
	c.waiters[id] = answer
	c.mu.Unlock()
	f := stomp.NewFrame(stomp.CmdSend, body, append([]string{"destination", "/app/rooms/" + room,
		"content-type", "application/json", "receipt", id}, kv...)...)
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(refusalWait))
	_, werr := c.nc.Write(stomp.AppendFrame(nil, f, stomp.V12)) // the server may close before reading it all
	c.wmu.Unlock()
	select {
	case f = <-answer:
	case <-c.done:
		select {
		case f = <-answer:
		default:
			f = c.serverError()
		}
	case <-time.After(refusalWait):
		t.Fatalf("SEND as %s: no answer within %v (write: %v)", user, refusalWait, werr)
	}
	if f == nil || f.Command != stomp.CmdError {
		t.Fatalf("SEND as %s: %v (write: %v), want ERROR", user, f, werr)
	}
	if err := c.closedE(frameWait); err != nil {
		t.Fatalf("after ERROR %q: %v", f.Header.Value("message"), err)
	}
	return f
}

func checkRefusal(t *testing.T, what string, f *stomp.Frame, message, detail string) {
	t.Helper()
	if f.Command != stomp.CmdError || f.Header.Value("message") != message || !strings.Contains(string(f.Body), detail) {
		t.Fatalf("%s: %s message=%q body %q\nwant ERROR message=%q body containing %q",
			what, f.Command, f.Header.Value("message"), f.Body, message, detail)
	}
}

// TestImageBadInputRefused: each bad image SEND, on a fresh connection of
// its sender, is an ERROR with the documented message header, after which
// the server closes the connection; nothing is stored (no blob, no row, no
// entry), and bob's subscription goes on with nothing but alice's next
// text message.
func TestImageBadInputRefused(t *testing.T) {
	ie, _ := diskImageEnv(t)
	n := ie.n
	const room = "imgbad"
	n.createRoom(room, "alice", "bob")
	n.createRoom("imgb2", "alice", "bob")
	l := ie.e.ledger()
	bob := n.connect("bob")
	sub, err := bob.Subscribe("/topic/rooms/"+room, gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	alice := n.rawConnect("alice")
	good := makePNG(t, 8, 8, 5, false)
	bobsUpload := n.uploadOK("bob", room, "", makePNG(t, 8, 8, 6, false), 8, 8)
	elsewhere := n.uploadOK("alice", "imgb2", "", makePNG(t, 8, 8, 7, false), 8, 8)

	pdf := []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
	overLimit := make([]byte, 10<<20+1) // one byte over RCP_IMAGE_MAX_BYTES' default
	copy(overLimit, pngMagic)
	cases := []struct {
		name, user      string
		body            []byte
		message, detail string
	}{
		{"invalid base64", "alice", []byte(`{"type":"image","image":{"data":"iVBORw0K!!GgoAAAA","contentType":"image/png","name":"a.png"}}`),
			"invalid message body", `bad base64 image data: invalid character "!"`},
		{"PDF disguised as image/png", "alice", imageSendBody(pdf, "image/png", "a.png"),
			"invalid message body", "not a supported image: looks like application/pdf"},
		{"HTML disguised as image/png", "alice", imageSendBody(html, "image/png", "a.png"),
			"invalid message body", "not a supported image: looks like text/html"},
		{"zero-byte image", "alice", []byte(`{"type":"image","image":{"data":"","contentType":"image/png","name":"a.png"}}`),
			"invalid message body", "empty image"},
		{"PNG magic, corrupt header", "alice", imageSendBody([]byte(pngMagic+"garbage garbage garbage"), "image/png", ""),
			"invalid message body", "corrupt image"},
		{"PNG declared as text/html", "alice", imageSendBody(good, "text/html", "a.png"),
			"invalid message body", `declared content type "text/html"`},
		{"one byte over the image limit", "alice", imageSendBody(overLimit, "image/png", "big.png"),
			"invalid message body", "image too large"},
		{"key of another user", "alice", keySendBody(bobsUpload.Key, ""), "invalid message body", "unknown upload"},
		{"key of another room", "alice", keySendBody(elsewhere.Key, ""), "invalid message body", "unknown upload"},
		{"key never uploaded", "alice", keySendBody("rooms/imgbad/00/00000000000000000000000000000000.png", ""),
			"invalid message body", "unknown upload"},
		{"key with path traversal", "alice", keySendBody("../../etc/passwd", ""), "invalid message body", "bad upload key"},
		{"path traversal in the name", "alice", imageSendBody(good, "image/png", "../../etc/passwd"),
			"invalid message body", "path traversal"},
		{"name of a directory", "alice", imageSendBody(good, "image/png", ".."), "invalid message body", "path traversal"},
		{"data and key", "alice", []byte(`{"type":"image","image":{"data":"iVBORw0KGgo=","key":"rooms/imgbad/00/x.png"}}`),
			"invalid message body", "give exactly one"},
		{"non-member sends an image", "carol", imageSendBody(good, "image/png", "a.png"), "not a member of the room", room},
	}
	objects, rows, xl := ie.objects(), ie.blobRows(t), l.xlen(room)
	if objects != 2 || rows != 2 || xl != 0 {
		t.Fatalf("before: %d blobs, %d rows, XLEN %d", objects, rows, xl)
	}
	after := func(what string) {
		t.Helper()
		if o, r, x := ie.objects(), ie.blobRows(t), l.xlen(room); o != objects || r != rows || x != xl {
			t.Fatalf("%s: %d blobs, %d rows, XLEN %d; want %d, %d, %d", what, o, r, x, objects, rows, xl)
		}
		s := alice.send(room, textBody("after "+what))
		m := expectFrom(t, bob, sub, s, "alice", room)
		if string(m.Body) != storedText("after "+what) {
			t.Fatalf("after %s: bob got %s", what, m.Body)
		}
		xl++
	}
	for _, c := range cases {
		f := imageRefusal(t, n, c.user, room, c.body, "x-client-id", "bad-1")
		checkRefusal(t, c.name, f, c.message, c.detail)
		after(c.name)
	}

	// A 50 MiB SEND, written as one frame with its content-length.
	f, written := hugeSend(t, n, "alice", room, 50<<20)
	checkRefusal(t, "50 MiB body", f, "body too large", "content-length 52428800 over limit")
	t.Logf("50 MiB SEND: the server closed after %d bytes", written)
	after("50 MiB body")

	// An x-client-id that names a text cannot name an image (refused before
	// the image is stored), nor the reverse.
	expectFrom(t, bob, sub, alice.send(room, textBody("text t-1"), "x-client-id", "t-1"), "alice", room)
	xl++
	f = imageRefusal(t, n, "alice", room, imageSendBody(good, "image/png", "a.png"), "x-client-id", "t-1")
	checkRefusal(t, "image under a text's x-client-id", f, "invalid message body", "x-client-id already used for a message of type text")
	after("image under a text's x-client-id")
	expectFrom(t, bob, sub, alice.send(room, imageSendBody(good, "image/png", "a.png"), "x-client-id", "i-1"), "alice", room)
	objects, rows, xl = objects+1, rows+1, xl+1
	f = imageRefusal(t, n, "alice", room, textBody("text i-1"), "x-client-id", "i-1")
	checkRefusal(t, "text under an image's x-client-id", f, "invalid message body", "x-client-id already used for a message of another type")
	after("text under an image's x-client-id")

	// Nothing was claimed: the uploads still serve their owners.
	s := n.rawConnect("bob").send(room, keySendBody(bobsUpload.Key, ""))
	m := expectFrom(t, bob, sub, s, "bob", room)
	if img := decodeImageBody(t, m.Body); img.Key != bobsUpload.Key {
		t.Fatalf("bob's upload delivered as %+v", redact(img))
	}
	alice.send("imgb2", keySendBody(elsewhere.Key, ""))
}

// hugeSend writes a SEND of size body bytes (an image SEND of 'A's) with
// its content-length, in 256 KiB WebSocket messages from one buffer, while
// the server answers; it returns the ERROR and how much was written before
// the server closed.
func hugeSend(t *testing.T, n *node, user, room string, size int) (*stomp.Frame, int) {
	t.Helper()
	c := n.rawConnect(user)
	defer c.close()
	prefix := `{"type":"image","image":{"contentType":"image/png","name":"huge.png","data":"`
	const suffix = `"}}`
	head := fmt.Sprintf("SEND\ndestination:/app/rooms/%s\ncontent-type:application/json\ncontent-length:%d\nreceipt:huge\n\n%s",
		room, size, prefix)
	chunk := bytes.Repeat([]byte("A"), 256<<10)
	done := make(chan int, 1)
	go func() {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		written := 0
		write := func(b []byte) bool {
			c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			k, err := c.nc.Write(b)
			written += k
			return err == nil
		}
		ok := write([]byte(head))
		for left := size - len(prefix) - len(suffix); ok && left > 0; left -= len(chunk) {
			ok = write(chunk[:min(left, len(chunk))])
		}
		if ok {
			write([]byte(suffix + "\x00"))
		}
		done <- written
	}()
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not close the connection within 30s of a %d-byte SEND", size)
	}
	f := c.serverError()
	c.close()
	written := <-done
	if f == nil {
		t.Fatalf("connection closed without an ERROR after %d bytes of a %d-byte SEND", written, size)
	}
	return f, written
}

// TestImageBadUploadsRefused: POST /v1/uploads refusals, with their status
// and error code; none stores anything.
func TestImageBadUploadsRefused(t *testing.T) {
	ie, _ := diskImageEnv(t)
	n := ie.n
	const room = "upbad"
	n.createRoom(room, "alice", "bob")
	l := ie.e.ledger()
	alice := token(t, "alice")
	pdf := []byte("%PDF-1.4\n%âãÏÓ\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n")
	good := makePNG(t, 4, 4, 8, false)
	const huge = 50 << 20

	// A 50 MiB multipart body, generated while it is sent.
	multipartHuge := func() (*uploadReq, func()) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		done := make(chan struct{})
		go func() {
			defer close(done)
			part, err := mw.CreateFormFile("file", "huge.png")
			if err == nil {
				_, err = io.Copy(part, bigPNGish(huge))
			}
			if err == nil {
				err = mw.Close()
			}
			pw.CloseWithError(err)
		}()
		return &uploadReq{token: alice, room: room, body: pr, size: -1, contentType: mw.FormDataContentType()},
			func() { pr.Close(); <-done }
	}

	cases := []struct {
		name   string
		req    func() (*uploadReq, func())
		status int
		code   string
		detail string
	}{
		{"no token", static(uploadReq{room: room, body: bytes.NewReader(good), size: int64(len(good))}),
			401, "missing_token", ""},
		{"forged token", static(uploadReq{token: forgedToken(t), room: room, body: bytes.NewReader(good), size: int64(len(good))}),
			401, "", ""},
		{"non-member", static(uploadReq{token: token(t, "carol"), room: room, body: bytes.NewReader(good), size: int64(len(good))}),
			403, "not_member", "not a member"},
		{"unknown room", static(uploadReq{token: alice, room: "nosuchroom", body: bytes.NewReader(good), size: int64(len(good))}),
			403, "not_member", "not a member"},
		{"invalid room id", static(uploadReq{token: alice, room: "a{b}", body: bytes.NewReader(good), size: int64(len(good))}),
			400, "invalid_room_id", ""},
		{"no room", static(uploadReq{token: alice, room: "", body: bytes.NewReader(good), size: int64(len(good))}),
			400, "invalid_room_id", ""},
		{"PDF as image/png", static(uploadReq{token: alice, room: room, body: bytes.NewReader(pdf), size: int64(len(pdf)), contentType: "image/png"}),
			415, "not_an_image", "application/pdf"},
		{"zero bytes", static(uploadReq{token: alice, room: room, body: nil, size: 0, contentType: "image/png"}),
			400, "invalid_image", "empty image"},
		{"path traversal in the name", static(uploadReq{token: alice, room: room, name: "../../etc/passwd", body: bytes.NewReader(good), size: int64(len(good))}),
			400, "invalid_image", "path traversal"},
		{"corrupt PNG", static(uploadReq{token: alice, room: room, body: strings.NewReader(pngMagic + "garbage"), size: int64(len(pngMagic) + 7)}),
			400, "invalid_image", "corrupt image"},
		{"50 MiB with Content-Length", func() (*uploadReq, func()) {
			return &uploadReq{token: alice, room: room, body: bigPNGish(huge), size: huge, contentType: "image/png"}, func() {}
		}, 413, "too_large", "10485760"},
		{"50 MiB chunked", func() (*uploadReq, func()) {
			return &uploadReq{token: alice, room: room, body: bigPNGish(huge), size: -1, contentType: "image/png"}, func() {}
		}, 413, "too_large", "10485760"},
		{"50 MiB multipart", multipartHuge, 413, "too_large", "10485760"},
		{"multipart without a file part", func() (*uploadReq, func()) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			mw.WriteField("image", "not here")
			mw.Close()
			return &uploadReq{token: alice, room: room, body: &buf, size: int64(buf.Len()), contentType: mw.FormDataContentType()}, func() {}
		}, 400, "bad_multipart", `no part named "file"`},
	}
	for _, c := range cases {
		objects, rows, xl := ie.objects(), ie.blobRows(t), l.xlen(room)
		req, cleanup := c.req()
		status, body := n.upload(*req)
		cleanup()
		var e apiError
		json.Unmarshal(body, &e)
		if status != c.status || (c.code != "" && e.Error != c.code) || !strings.Contains(e.Message, c.detail) || e.Error == "" {
			t.Errorf("%s: %d %s\nwant %d error %q message containing %q", c.name, status, body, c.status, c.code, c.detail)
		}
		if o, r, x := ie.objects(), ie.blobRows(t), l.xlen(room); o != objects || r != rows || x != xl {
			t.Errorf("%s: %d blobs, %d rows, XLEN %d; want %d, %d, %d", c.name, o, r, x, objects, rows, xl)
		}
	}
	// The endpoint still works, and what was refused left no claim on memory.
	n.uploadOK("alice", room, "ok.png", good, 4, 4)
	if o, r := ie.objects(), ie.blobRows(t); o != 1 || r != 1 {
		t.Fatalf("after one good upload: %d blobs, %d rows", o, r)
	}
}

func static(r uploadReq) func() (*uploadReq, func()) {
	return func() (*uploadReq, func()) { return &r, func() {} }
}

// jsImage is one image tests/node/image.mjs sends.
type jsImage struct {
	Name        string `json:"name"`
	ContentType string `json:"contentType"`
	Data        string `json:"data"`
	ClientID    string `json:"clientId"`
}

// jsImageResult is the line image.mjs prints.
type jsImageResult struct {
	OK       bool   `json:"ok"`
	Error    string `json:"error"`
	Receipts []struct {
		Name, ID, Seq string
	} `json:"receipts"`
	Received []struct {
		ID, Seq, Sender, Room, ContentType, Body string
	} `json:"received"`
}
