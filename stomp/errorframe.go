package stomp

import (
	"errors"
	"strings"
	"time"
)

// sentinels in the order they are matched; the first match names the
// ERROR's message header and the metric reason.
var sentinels = []error{
	ErrFrameTooLarge, ErrTooManyHeaders, ErrHeaderTooLong, ErrBodyTooLarge,
	ErrBadCommand, ErrMissingNUL, ErrBadHeader, ErrBadEscape, ErrInvalidUTF8,
	ErrBadContentLength, ErrFrameTimeout, ErrHeartbeatTimeout, ErrSlowConsumer,
	ErrNotConnected, ErrAlreadyConnected, ErrUnsupported, ErrMissingHeader,
	ErrUnknownSub, ErrDuplicateSub, ErrUnknownAck, ErrUnknownTx, ErrDuplicateTx,
	ErrTooManyTx, ErrTooManySubs, ErrTooManyUnacked, ErrServerShutdown,
	ErrWebSocketMessageTooLarge, ErrProtocol, ErrConnectionClosing,
}

// describe turns an error into the ERROR frame's message, its body and a
// metric reason.
func describe(err error) (message, body, reason string) {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Message, r.Detail, "refused"
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error(), err.Error(), strings.ReplaceAll(s.Error(), " ", "_")
		}
	}
	return "internal error", "the server could not handle the frame", "internal"
}

func (c *Conn) errorFrame(err error, receipt string) (*Frame, string) {
	msg, body, reason := describe(err)
	f := NewFrame(CmdError, []byte(body), "message", msg, "content-type", "text/plain")
	if receipt != "" {
		f.Header.Add("receipt-id", receipt)
	}
	return f, reason
}

// fail ends the session with an ERROR describing err. Safe from any goroutine.
func (c *Conn) fail(err error) { c.failWith(err, "", false) }

// failFrame is fail for an error caused by frame f: the ERROR carries f's
// receipt as receipt-id.
func (c *Conn) failFrame(err error, f *Frame) {
	c.failWith(err, f.Header.Value("receipt"), false)
}

// failSlow drops whatever is queued and ends the session: the client did not
// read fast enough. The writer is likely blocked writing to it, so after a
// short grace for the ERROR the socket is closed under the writer rather
// than left to WriteTimeout (as nats-server does with slow consumers).
func (c *Conn) failSlow() {
	c.failWith(errorf(ErrSlowConsumer, "%d frames queued", c.srv.cfg.OutboundQueue), "", true)
	time.AfterFunc(min(c.srv.cfg.WriteTimeout, slowConsumerGrace), func() { c.t.Close() })
}

// slowConsumerGrace bounds how long a slow consumer's socket stays open for
// its ERROR frame.
const slowConsumerGrace = time.Second

func (c *Conn) failWith(err error, receipt string, discard bool) {
	f, reason := c.errorFrame(err, receipt)
	c.srv.cfg.Observer.Error(reason)
	if reason == "internal" {
		c.srv.log.Error("stomp: handler failed", "session", c.id, "err", err)
	} else {
		c.srv.log.Debug("stomp: closing session", "session", c.id, "reason", reason, "err", err)
	}
	c.beginClose(&finalFrame{frame: AppendFrame(nil, f, c.Version()), discard: discard})
}

// refuseAndClose answers a connection that never became a session.
func (c *Conn) refuseAndClose(err error) {
	f, reason := c.errorFrame(err, "")
	c.srv.cfg.Observer.Error(reason)
	c.t.SetWriteDeadline(time.Now().Add(time.Second))
	c.t.WriteFrame(AppendFrame(nil, f, c.Version()))
	c.t.Flush()
	c.t.CloseWrite()
	c.t.Close()
}
