package main

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/rcp/rcp/stomp"
)

// readLoop handles every frame after CONNECTED and SUBSCRIBE until the
// connection ends: MESSAGE (counted, acknowledged), RECEIPT (window token
// back), ERROR (recorded). lastSeq tells duplicates: the server delivers a
// room's messages in x-seq order, so a repeat never has a higher x-seq.
func (c *client) readLoop(t *tracker, ackMode string) {
	defer close(c.closed)
	var lastSeq int64
	for {
		f, err := c.r.ReadFrame()
		if err != nil {
			if c.err == nil {
				c.err = err
			}
			return
		}
		switch f.Command {
		case stomp.CmdMessage:
			c.onMessage(f, t, ackMode, &lastSeq)
		case stomp.CmdReceipt:
			if c.onReceipt(f, t) {
				return
			}
		case stomp.CmdError:
			msg := f.Header.Value("message")
			t.error(msg)
			if c.err == nil {
				c.err = fmt.Errorf("ERROR frame: %s", msg)
			}
		}
	}
}

// onReceipt reports true for the receipt of DISCONNECT.
func (c *client) onReceipt(f *stomp.Frame, t *tracker) bool {
	rid := f.Header.Value("receipt-id")
	if rid == "bye" {
		c.err = errBye
		return true
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(rid, "m"), 10, 64)
	if err != nil {
		t.unexpected.Add(1)
		return false
	}
	t.markReceipted(id)
	select {
	case <-c.window:
	default:
	}
	return false
}

func (c *client) onMessage(f *stomp.Frame, t *tracker, ackMode string, lastSeq *int64) {
	seq, _ := strconv.ParseInt(f.Header.Value("x-seq"), 10, 64)
	if seq <= *lastSeq {
		t.duplicates.Add(1)
	} else {
		*lastSeq = seq
		id, sentNs, ok := parseBody(f.Body)
		if ok {
			t.markDelivered(id, c.room, sentNs)
		} else {
			t.unexpected.Add(1)
		}
	}
	if ackMode == "auto" {
		return
	}
	if err := c.write(stomp.NewFrame(stomp.CmdAck, nil, "id", f.Header.Value("ack"))); err == nil {
		t.acks.Add(1)
	}
}

// bodyPrefix starts the text (or, for images, the name) of every benchmark
// message: "rb <id> <ns> …". Base64 image data holds no quote or space.
const bodyPrefix = `"rb `

// makeBody builds a text message of at least size bytes of text carrying
// the message id and its send time.
func makeBody(id, sentNs int64, size int) []byte {
	b := make([]byte, 0, size+48)
	b = append(b, `{"type":"text","text":`...)
	b = append(b, bodyPrefix...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, sentNs, 10)
	b = append(b, ' ')
	for n := len(b) - len(`{"type":"text","text":"`); n < size; n++ {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// parseBody reads the id and send time back from a delivered body.
func parseBody(body []byte) (id, sentNs int64, ok bool) {
	i := bytes.Index(body, []byte(bodyPrefix))
	if i < 0 {
		return 0, 0, false
	}
	fields := bytes.SplitN(body[i+len(bodyPrefix):], []byte{' '}, 3)
	if len(fields) < 3 {
		return 0, 0, false
	}
	id, err1 := strconv.ParseInt(string(fields[0]), 10, 64)
	sentNs, err2 := strconv.ParseInt(string(fields[1]), 10, 64)
	return id, sentNs, err1 == nil && err2 == nil
}
