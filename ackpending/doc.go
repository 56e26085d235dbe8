// Package ackpending is the read side of the ACK ledger and escalation: it
// owns the due schedule's claims and leases (the rcpesc Redis Functions in
// rcpesc.lua), presence (live sessions per user with an expiry each node
// refreshes), the push decision per member from XPENDING … IDLE, push
// attempts with retries and the XCLAIM … RETRYCOUNT bump that records them,
// device tokens (MySQL through sqlc, cached in Redis), the FCM sender on
// firebase.google.com/go/v4 behind the small Sender interface (with a log
// sender for development) and escalation metrics. docs/push.md is the
// reference for operators and client developers.
package ackpending
