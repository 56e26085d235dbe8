// Package gateway is the application edge of rcpd: it authenticates clients
// (JWT bearer tokens, see Verifier), validates what they send, and serves the
// REST API (RoomAPI). It owns the contract's wire formats and limits; the
// storage behind the room API is the RoomStore interface, implemented on MySQL
// by MySQLRoomStore.
package gateway
