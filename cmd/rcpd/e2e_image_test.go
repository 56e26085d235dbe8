package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"

	"github.com/rcp/rcp/stomp"
)

// expectFrom reads the next MESSAGE of sub, checks it is the entry a
// RECEIPT named (x-stream-id, x-seq) from sender in room, and ACKs it.
func expectFrom(t *testing.T, c *client, sub *gostomp.Subscription, receipt *stomp.Frame, sender, room string) *gostomp.Message {
	t.Helper()
	m := recv(t, sub)
	id, seq := receipt.Header.Value("x-stream-id"), receipt.Header.Value("x-seq")
	if m.Header.Get("x-stream-id") != id || m.Header.Get("x-seq") != seq || m.Header.Get("x-sender") != sender ||
		m.Header.Get("x-room") != room || m.ContentType != "application/json" {
		t.Fatalf("MESSAGE x-stream-id=%s x-seq=%s x-sender=%s x-room=%s content-type=%s: %.200s\nwant the entry %s (x-seq %s) from %s in %s",
			m.Header.Get("x-stream-id"), m.Header.Get("x-seq"), m.Header.Get("x-sender"), m.Header.Get("x-room"),
			m.ContentType, m.Body, id, seq, sender, room)
	}
	if err := c.Ack(m); err != nil {
		t.Fatal(err)
	}
	return m
}

// refusalWait bounds the answer to a refused SEND: a 14 MB body takes
// seconds through a -race rcpd.
const refusalWait = 30 * time.Second

// imageRefusal sends body to room as user on a fresh connection, expects an
// ERROR answering it, and that the server then closes the connection.
func imageRefusal(t *testing.T, n *node, user, room string, body []byte, kv ...string) *stomp.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	c, err := n.rawConnectE(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
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

// multipartUpload posts data as the part "file" (after another field, which
// the server must skip) and returns status and reply.
func multipartUpload(t *testing.T, n *node, user, room, filename string, data []byte) (int, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "not the file")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", "image/png")
	pw, err := mw.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return n.upload(uploadReq{token: token(t, user), room: room, body: bytes.NewReader(buf.Bytes()),
		size: int64(buf.Len()), contentType: mw.FormDataContentType()})
}

// imageExchange runs the image round trips on ie's node: base64 SENDs
// (inline and URL-only), direct uploads (raw and multipart) and SENDs of
// their keys, key reuse and retries. It returns two delivered images.
func imageExchange(t *testing.T, ie *imageEnv) (small, large deliveredImage) {
	n := ie.n
	const room = "img1"
	n.createRoom(room, "alice", "bob")
	l := ie.e.ledger()
	bob := n.connect("bob")
	sub, err := bob.Subscribe("/topic/rooms/"+room, gostomp.AckClientIndividual)
	if err != nil {
		t.Fatal(err)
	}
	alice := n.rawConnect("alice")

	smallPNG, largePNG := makePNG(t, 12, 9, 1, false), makePNG(t, 256, 200, 2, true)
	if len(smallPNG) < 100 || len(smallPNG) > 1024 || len(largePNG) < 200<<10 {
		t.Fatalf("test images of %d and %d bytes", len(smallPNG), len(largePNG))
	}

	// A small image: inline data and a URL.
	r1 := alice.send(room, imageSendBody(smallPNG, "image/png", "a.png"), "x-client-id", "small-1")
	m := expectFrom(t, bob, sub, r1, "alice", room)
	small = checkImage(t, "small image", decodeImageBody(t, m.Body),
		wantImage{bytes: smallPNG, width: 12, height: 9, name: "a.png", room: room, inline: true})

	// A large one, sent by go-stomp (its 4 KiB writes split the frame over
	// many WebSocket messages): a URL only.
	aliceGS := n.connect("alice")
	if err := aliceGS.Send("/app/rooms/"+room, "application/json", imageSendBody(largePNG, "image/png", "big.png"),
		gostomp.SendOpt.Receipt); err != nil {
		t.Fatalf("large image: %v\n%s", err, n.log)
	}
	m = recv(t, sub)
	if m.Header.Get("x-sender") != "alice" || m.Header.Get("x-seq") != "2" || m.Header.Get("x-prev-id") != r1.Header.Value("x-stream-id") {
		t.Fatalf("large image MESSAGE headers %v", m.Header)
	}
	bob.Ack(m)
	large = checkImage(t, "large image", decodeImageBody(t, m.Body),
		wantImage{bytes: largePNG, width: 256, height: 200, name: "big.png", room: room})
	if small.Key == large.Key {
		t.Fatalf("two images, one key %s", small.Key)
	}
	if got := ie.objects(); got != 2 {
		t.Fatalf("%d blobs stored after two images, want 2", got)
	}

	// Direct uploads, raw and multipart: stored, no entry yet.
	upPNG, mpPNG := makePNG(t, 7, 5, 3, false), makePNG(t, 5, 7, 4, false)
	up := n.uploadOK("alice", room, "up.png", upPNG, 7, 5)
	status, b := multipartUpload(t, n, "alice", room, "mp.png", mpPNG)
	mp := checkUploadReply(t, status, b, room, "mp.png", mpPNG, 5, 7)
	if got, xl := ie.objects(), l.xlen(room); got != 4 || xl != 2 {
		t.Fatalf("after two uploads: %d blobs, XLEN %d; want 4 and 2", got, xl)
	}

	// Bob, a member of the room, cannot send alice's (unused) upload.
	f := imageRefusal(t, n, "bob", room, keySendBody(up.Key, ""), "x-client-id", "steal")
	checkRefusal(t, "bob sends alice's key", f, "invalid message body", "unknown upload")

	// Alice sends it: bob gets it with the upload's name, inline data and a URL.
	rk := alice.send(room, keySendBody(up.Key, ""), "x-client-id", "key-1")
	m = expectFrom(t, bob, sub, rk, "alice", room)
	checkImage(t, "uploaded image", decodeImageBody(t, m.Body),
		wantImage{bytes: upPNG, width: 7, height: 5, name: "up.png", key: up.Key, room: room, inline: true})

	// The key again, under another x-client-id: refused.
	f = imageRefusal(t, n, "alice", room, keySendBody(up.Key, ""), "x-client-id", "key-2")
	checkRefusal(t, "key used twice", f, "invalid message body", "already used")
	f = imageRefusal(t, n, "alice", room, keySendBody(up.Key, ""))
	checkRefusal(t, "key used twice, no x-client-id", f, "invalid message body", "already used")

	// Retries with the first x-client-ids: the same entries, nothing new.
	alice2 := n.rawConnect("alice")
	for _, retry := range []struct {
		first *stomp.Frame
		body  []byte
		cid   string
	}{{rk, keySendBody(up.Key, ""), "key-1"}, {r1, imageSendBody(smallPNG, "image/png", "a.png"), "small-1"}} {
		r := alice2.send(room, retry.body, "x-client-id", retry.cid)
		if r.Header.Value("x-stream-id") != retry.first.Header.Value("x-stream-id") || r.Header.Value("x-seq") != retry.first.Header.Value("x-seq") {
			t.Fatalf("retry of %s: RECEIPT %v, first was %v", retry.cid, r.Header, retry.first.Header)
		}
	}
	// The same x-client-id with other image bytes is refused.
	f = imageRefusal(t, n, "alice", room, imageSendBody(upPNG, "image/png", "a.png"), "x-client-id", "small-1")
	checkRefusal(t, "x-client-id reused for other bytes", f, "invalid message body", "x-client-id already used")

	// The multipart upload, renamed by the SEND. Bob's next MESSAGE is this
	// one: the retries delivered nothing.
	rm := alice2.send(room, keySendBody(mp.Key, "renamed.png"), "x-client-id", "key-3")
	m = expectFrom(t, bob, sub, rm, "alice", room)
	checkImage(t, "multipart upload", decodeImageBody(t, m.Body),
		wantImage{bytes: mpPNG, width: 5, height: 7, name: "renamed.png", key: mp.Key, room: room, inline: true})

	if got, rows, xl := ie.objects(), ie.blobRows(t), l.xlen(room); got != 4 || rows != 4 || xl != 4 {
		t.Fatalf("at the end: %d blobs, %d rows, XLEN %d; want 4, 4, 4", got, rows, xl)
	}
	l.waitPending(room, "bob", []string{})
	l.waitPending(room, "alice", []string{})

	// History pages carry the URL, never the inline bytes.
	var page messagesPage
	if code := n.userAPI("bob", "GET", "/v1/rooms/"+room+"/messages?limit=10", nil, &page); code != 200 || len(page.Messages) != 4 {
		t.Fatalf("history: %d, %d messages", code, len(page.Messages))
	}
	for i, want := range []wantImage{
		{bytes: smallPNG, width: 12, height: 9, name: "a.png", key: small.Key, room: room},
		{bytes: largePNG, width: 256, height: 200, name: "big.png", key: large.Key, room: room},
		{bytes: upPNG, width: 7, height: 5, name: "up.png", key: up.Key, room: room},
		{bytes: mpPNG, width: 5, height: 7, name: "renamed.png", key: mp.Key, room: room},
	} {
		hm := page.Messages[i]
		if hm.Type != "image" || hm.Sender != "alice" {
			t.Fatalf("history message %d: %+v", i, hm)
		}
		checkImage(t, fmt.Sprintf("history message %d", i), decodeImageBody(t, hm.Body), want)
	}
	return small, large
}

// TestImageExchangeDisk: images through rcpd on the local disk store, and
// its signed URLs refuse every alteration.
func TestImageExchangeDisk(t *testing.T) {
	ie, _ := diskImageEnv(t)
	small, large := imageExchange(t, ie)

	u, err := url.Parse(small.URL)
	if err != nil || u.Scheme != "http" || u.Host != ie.n.addr || u.Path != "/v1/blobs/"+small.Key {
		t.Fatalf("url %s (%v): want http://%s/v1/blobs/%s?…", small.URL, err, ie.n.addr, small.Key)
	}
	status, _, h := fetch(t, small.URL)
	if status != 200 || h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("GET url: %d %v", status, h)
	}
	q := u.Query()
	exp, sig := q.Get("exp"), q.Get("sig")
	expN, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || len(sig) != 64 {
		t.Fatalf("url exp %q sig %q", exp, sig)
	}
	flip := func(s string) string {
		c := byte('0')
		if s[len(s)-1] == '0' {
			c = '1'
		}
		return s[:len(s)-1] + string(c)
	}
	base := "http://" + ie.n.addr + "/v1/blobs/"
	for name, tampered := range map[string]string{
		"sig altered":             base + small.Key + "?exp=" + exp + "&sig=" + flip(sig),
		"another existing key":    base + large.Key + "?exp=" + exp + "&sig=" + sig,
		"key altered":             base + flip(strings.TrimSuffix(small.Key, ".png")) + ".png?exp=" + exp + "&sig=" + sig,
		"exp pushed back":         base + small.Key + "?exp=" + strconv.FormatInt(expN+3600, 10) + "&sig=" + sig,
		"no sig":                  base + small.Key + "?exp=" + exp,
		"no query":                base + small.Key,
		"key with a dot-dot":      base + "rooms/img1/..x/y.png?exp=" + exp + "&sig=" + sig,
		"encoded path traversal":  base + "rooms%2F..%2F..%2Fetc%2Fpasswd?exp=" + exp + "&sig=" + sig,
		"sig of another key used": base + small.Key + "?exp=" + exp + "&sig=" + mustQuery(t, large.URL, "sig"),
	} {
		status, body, _ := fetch(t, tampered)
		if status != 403 {
			t.Errorf("%s: GET %s: %d %.100q, want 403", name, tampered, status, body)
		}
	}
}

func mustQuery(t *testing.T, raw, key string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Query().Get(key) == "" {
		t.Fatalf("url %s has no %s (%v)", raw, key, err)
	}
	return u.Query().Get(key)
}

// TestImageExchangeS3: the same round trips on an S3 bucket that rcpd
// creates itself; the presigned URLs refuse alteration too.
func TestImageExchangeS3(t *testing.T) {
	ie := s3ImageEnv(t)
	small, _ := imageExchange(t, ie)
	u, err := url.Parse(small.URL)
	if err != nil || u.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("url %s is not a presigned S3 URL (%v)", small.URL, err)
	}
	q := u.Query()
	s := q.Get("X-Amz-Signature")
	q.Set("X-Amz-Signature", strings.Repeat("0", len(s)))
	u.RawQuery = q.Encode()
	if status, body, _ := fetch(t, u.String()); status != 403 {
		t.Fatalf("altered presigned URL: %d %.200s, want 403", status, body)
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
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	c, err := n.rawConnectE(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
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

// TestImageStompJS: @stomp/stompjs clients under node exchange a small and
// a large image through rcpd; Go checks the inline bytes and the URLs.
func TestImageStompJS(t *testing.T) {
	ie, _ := diskImageEnv(t)
	n := ie.n
	const room = "imgjs"
	n.createRoom(room, "alice", "bob")
	smallPNG, largePNG := makePNG(t, 10, 6, 9, false), makePNG(t, 240, 220, 10, true)
	images := []jsImage{
		{Name: "small.png", ContentType: "image/png", Data: base64.StdEncoding.EncodeToString(smallPNG), ClientID: "js-small"},
		{Name: "large.png", ContentType: "image/png", Data: base64.StdEncoding.EncodeToString(largePNG), ClientID: "js-large"},
	}
	cfg, _ := json.Marshal(map[string]any{"url": n.wsURL(), "room": room, "alice": token(t, "alice"),
		"bob": token(t, "bob"), "images": images})
	// The large image's base64 is over Linux's 128 KiB limit of one argument.
	cfgFile := filepath.Join(t.TempDir(), "image.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	dir, nodeBin := nodeDir(t, "image.mjs")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "image.mjs", cfgFile)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node did not finish within a minute\nstdout:\n%s\nstderr:\n%s", stdout.Bytes(), stderr.Bytes())
	}
	var res jsImageResult
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &res); err != nil {
		t.Fatalf("node output is not a result (%v, exit %v):\n%s\nstderr:\n%s", err, runErr, stdout.Bytes(), stderr.Bytes())
	}
	if !res.OK || runErr != nil {
		t.Fatalf("image.mjs failed (exit %v): %s\nstderr:\n%s\nrcpd:\n%s", runErr, res.Error, stderr.Bytes(), n.log)
	}
	if len(res.Receipts) != 2 || len(res.Received) != 2 {
		t.Fatalf("%d receipts, %d messages; want 2 and 2", len(res.Receipts), len(res.Received))
	}
	wants := []wantImage{
		{bytes: smallPNG, width: 10, height: 6, name: "small.png", room: room, inline: true},
		{bytes: largePNG, width: 240, height: 220, name: "large.png", room: room},
	}
	for i, m := range res.Received {
		r := res.Receipts[i]
		if r.Name != images[i].Name || m.ID != r.ID || m.Seq != r.Seq || m.Seq != fmt.Sprint(i+1) ||
			m.Sender != "alice" || m.Room != room || m.ContentType != "application/json" {
			t.Fatalf("message %d %+v, receipt %+v", i, m, r)
		}
		checkImage(t, "stompjs "+images[i].Name, decodeImageBody(t, []byte(m.Body)), wants[i])
	}
}
