package stomp_test

import (
	"bytes"
	"net"
	"sync/atomic"
)

// The go-stomp conformance tests reach the WebSocket endpoint through
// stomp/wsnet, the net.Conn adapter that rcpbench and the end-to-end tests
// share: every Write is one WebSocket message, so go-stomp's 4 KiB write
// buffer splits large frames across messages.

// countingConn counts what a client writes: every Write, and the Writes that
// are a lone heart-beat EOL (go-stomp flushes each heart-beat on its own).
type countingConn struct {
	net.Conn
	writes     atomic.Int64
	heartbeats atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	if bytes.Equal(p, []byte{'\n'}) || bytes.Equal(p, []byte("\r\n")) {
		c.heartbeats.Add(1)
	}
	return c.Conn.Write(p)
}
