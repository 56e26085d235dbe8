// Package stomp owns the STOMP 1.0–1.2 protocol: the frame codec with limits,
// the WebSocket and TCP transports, and per-connection sessions (heart-beats,
// receipts, subscriptions, acknowledgements, transactions). The application
// plugs in through the Handler interface; this package knows nothing of Redis.
package stomp

import "strconv"

// Client and server commands.
const (
	CmdConnect     = "CONNECT"
	CmdStomp       = "STOMP"
	CmdSend        = "SEND"
	CmdSubscribe   = "SUBSCRIBE"
	CmdUnsubscribe = "UNSUBSCRIBE"
	CmdAck         = "ACK"
	CmdNack        = "NACK"
	CmdBegin       = "BEGIN"
	CmdCommit      = "COMMIT"
	CmdAbort       = "ABORT"
	CmdDisconnect  = "DISCONNECT"

	CmdConnected = "CONNECTED"
	CmdMessage   = "MESSAGE"
	CmdReceipt   = "RECEIPT"
	CmdError     = "ERROR"
)

// commands interns every known command so a parsed frame's Command never
// allocates and unknown commands are rejected early.
var commands = map[string]string{}

func init() {
	for _, c := range []string{CmdConnect, CmdStomp, CmdSend, CmdSubscribe,
		CmdUnsubscribe, CmdAck, CmdNack, CmdBegin, CmdCommit, CmdAbort,
		CmdDisconnect, CmdConnected, CmdMessage, CmdReceipt, CmdError} {
		commands[c] = c
	}
}

// IsClientCommand reports whether cmd may be sent by a client.
func IsClientCommand(cmd string) bool {
	switch cmd {
	case CmdConnect, CmdStomp, CmdSend, CmdSubscribe, CmdUnsubscribe, CmdAck,
		CmdNack, CmdBegin, CmdCommit, CmdAbort, CmdDisconnect:
		return true
	}
	return false
}

// Version is a negotiated STOMP protocol version.
type Version int

// Supported versions.
const (
	V10 Version = iota + 10
	V11
	V12
)

func (v Version) String() string {
	switch v {
	case V10:
		return "1.0"
	case V11:
		return "1.1"
	case V12:
		return "1.2"
	}
	return "unknown"
}

// escapes reports whether header values are escaped in frames of cmd.
func (v Version) escapes(cmd string) bool {
	return v >= V11 && cmd != CmdConnect && cmd != CmdConnected && cmd != CmdStomp
}

// HeaderField is one header line. Order is kept: STOMP says the first
// occurrence of a repeated header wins.
type HeaderField struct {
	Key, Value string
}

// Header is a frame's headers in wire order.
type Header []HeaderField

// Get returns the first value for key.
func (h Header) Get(key string) (string, bool) {
	for _, f := range h {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Value returns the first value for key, or "".
func (h Header) Value(key string) string {
	v, _ := h.Get(key)
	return v
}

// Set replaces the first value for key or appends it.
func (h *Header) Set(key, value string) {
	for i := range *h {
		if (*h)[i].Key == key {
			(*h)[i].Value = value
			return
		}
	}
	*h = append(*h, HeaderField{key, value})
}

// Add appends a header, keeping earlier ones.
func (h *Header) Add(key, value string) {
	*h = append(*h, HeaderField{key, value})
}

// Frame is one STOMP frame.
type Frame struct {
	Command string
	Header  Header
	Body    []byte
}

// NewFrame builds a frame from alternating key, value strings.
func NewFrame(cmd string, body []byte, kv ...string) *Frame {
	f := &Frame{Command: cmd, Body: body, Header: make(Header, 0, len(kv)/2+1)}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Header.Add(kv[i], kv[i+1])
	}
	return f
}

// ContentLength parses the content-length header; ok is false when absent.
func (f *Frame) ContentLength() (n int, ok bool, err error) {
	v, ok := f.Header.Get("content-length")
	if !ok {
		return 0, false, nil
	}
	n, err = strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, true, errorf(ErrBadContentLength, "content-length %q", v)
	}
	return n, true, nil
}
