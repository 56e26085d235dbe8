package stomp

import (
	"errors"
	"fmt"
)

// Codec errors. Each is returned wrapped with detail; callers branch with
// errors.Is. Every one of them ends the connection with an ERROR frame whose
// message names the sentinel.
var (
	ErrFrameTooLarge     = errors.New("frame too large")
	ErrTooManyHeaders    = errors.New("too many headers")
	ErrHeaderTooLong     = errors.New("header line too long")
	ErrBodyTooLarge      = errors.New("body too large")
	ErrBadCommand        = errors.New("unknown command")
	ErrMissingNUL        = errors.New("frame not terminated by NUL")
	ErrBadHeader         = errors.New("malformed header")
	ErrBadEscape         = errors.New("undefined escape sequence in header")
	ErrInvalidUTF8       = errors.New("header is not valid UTF-8")
	ErrBadContentLength  = errors.New("invalid content-length")
	ErrFrameTimeout      = errors.New("frame not completed in time")
	ErrHeartbeatTimeout  = errors.New("no data from client within heart-beat grace")
	ErrSlowConsumer      = errors.New("slow consumer: outbound queue full")
	ErrProtocol          = errors.New("protocol violation")
	ErrNotConnected      = errors.New("frame before CONNECT")
	ErrAlreadyConnected  = errors.New("second CONNECT")
	ErrUnsupported       = errors.New("unsupported protocol version")
	ErrMissingHeader     = errors.New("missing required header")
	ErrUnknownSub        = errors.New("unknown subscription")
	ErrDuplicateSub      = errors.New("duplicate subscription id")
	ErrUnknownAck        = errors.New("unknown ack id")
	ErrUnknownTx         = errors.New("unknown transaction")
	ErrDuplicateTx       = errors.New("transaction already open")
	ErrTooManyTx         = errors.New("too many open transactions or frames in one")
	ErrTooManySubs       = errors.New("too many subscriptions")
	ErrTooManyUnacked    = errors.New("too many unacknowledged messages")
	ErrServerShutdown    = errors.New("server shutting down")
	ErrConnectionClosing = errors.New("connection closing")
)

func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// Refusal is an application error that becomes an ERROR frame. Message is
// the short `message` header; Detail, if set, is the readable body.
type Refusal struct {
	Message string
	Detail  string
	Err     error
}

func (r *Refusal) Error() string {
	if r.Detail != "" {
		return r.Message + ": " + r.Detail
	}
	return r.Message
}

func (r *Refusal) Unwrap() error { return r.Err }

// Refuse builds a Refusal wrapping err.
func Refuse(err error, message, detail string) *Refusal {
	return &Refusal{Message: message, Detail: detail, Err: err}
}
