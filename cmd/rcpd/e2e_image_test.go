package main_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
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
		t.Fatalf("large image: %v\n%s", err, n.Log)
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
	if err != nil || u.Scheme != "http" || u.Host != ie.n.Addr || u.Path != "/v1/blobs/"+small.Key {
		t.Fatalf("url %s (%v): want http://%s/v1/blobs/%s?…", small.URL, err, ie.n.Addr, small.Key)
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
	base := "http://" + ie.n.Addr + "/v1/blobs/"
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
	var res jsImageResult
	stderr, runErr := runNodeScript(t, "image.mjs", cfgFile, &res)
	if !res.OK || runErr != nil {
		t.Fatalf("image.mjs failed (exit %v): %s\nstderr:\n%s\nrcpd:\n%s", runErr, res.Error, stderr, n.Log)
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

// TestImageStoreInReadiness: /readyz reports the blob store; it goes 503
// when the disk store's directory is gone and back to 200 when it returns.
func TestImageStoreInReadiness(t *testing.T) {
	ie, dir := diskImageEnv(t)
	if got := ie.n.readyz(); got != http.StatusOK {
		t.Fatalf("readyz %d with the store in place", got)
	}
	objects := filepath.Join(dir, "objects")
	if err := os.Rename(objects, objects+".away"); err != nil {
		t.Fatal(err)
	}
	if got := ie.n.readyz(); got != http.StatusServiceUnavailable {
		t.Fatalf("readyz %d without the store's directory, want 503", got)
	}
	if err := os.Rename(objects+".away", objects); err != nil {
		t.Fatal(err)
	}
	if got := ie.n.readyz(); got != http.StatusOK {
		t.Fatalf("readyz %d with the store back", got)
	}
}
