package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"
)

// config is one benchmark scenario.
type config struct {
	URL, API, Secret string
	RunID            string

	Rooms, Members, Conns, SendersPerRoom int

	Rate        float64 // offered SENDs per second over all senders; 0 = as fast as the window allows
	Duration    time.Duration
	Messages    int // message budget; 0 = rate × duration (or MaxMessages)
	MaxMessages int
	Receipts    bool
	Window      int // unreceipted SENDs in flight per sender connection
	Ack         string
	Size        int // text bytes per message
	ImageBytes  int // send base64 PNG images of about this size instead of text; 0 = text
	Uploads     int // run the upload benchmark with this many concurrent uploaders instead
	images      *imageBodies

	Hold, Grace, SetupTimeout  time.Duration
	Heartbeat                  time.Duration // STOMP heart-beats both ways, 0 = none
	DialConcurrency, CreateAPI int
	Quiet                      bool
	RedisURL, Pids             string // optional resource probe
	CPUProfile                 string // write rcpbench's own CPU profile here
}

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("rcpbench", flag.ContinueOnError)
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:8080/ws", "rcpd WebSocket endpoint")
	fs.StringVar(&c.API, "api", "", "REST base URL (default: from --url)")
	fs.StringVar(&c.Secret, "jwt-secret", os.Getenv("RCP_JWT_SECRET"), "HS256 secret rcpd verifies tokens with (RCP_JWT_SECRET)")
	fs.StringVar(&c.RunID, "run-id", "", "names this run's rooms and users (default: random)")
	fs.IntVar(&c.Rooms, "rooms", 10, "rooms to create")
	fs.IntVar(&c.Members, "members", 2, "members per room, each a user of its own")
	fs.IntVar(&c.Conns, "conns", 0, "connections, one per member in room order (default rooms × members)")
	fs.IntVar(&c.SendersPerRoom, "senders", -1, "connected members per room that send (default all)")
	fs.Float64Var(&c.Rate, "rate", 100, "offered SENDs per second over all senders, paced open-loop; 0 = as fast as the window allows")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "sending time; 0 = connect, hold, report")
	fs.IntVar(&c.Messages, "messages", 0, "stop after this many SENDs (0 = no count limit)")
	fs.IntVar(&c.MaxMessages, "max-messages", 2_000_000, "hard bound on SENDs (memory is sized by it)")
	fs.BoolVar(&c.Receipts, "receipts", true, "ask a RECEIPT for every SEND")
	fs.IntVar(&c.Window, "window", 16, "unreceipted SENDs in flight per sender connection")
	fs.StringVar(&c.Ack, "ack", "client-individual", "subscription ack mode: auto, client or client-individual")
	fs.IntVar(&c.Size, "size", 64, "text bytes per message (at least the id and timestamp)")
	fs.IntVar(&c.ImageBytes, "image-bytes", 0, "send images (base64 PNG inside the JSON, as the Android app does) of about this many bytes instead of text; 0 = text")
	fs.IntVar(&c.Uploads, "uploads", 0, "instead of STOMP, run N concurrent POST /v1/uploads loops of --image-bytes images for --duration (one room per uploader)")
	fs.DurationVar(&c.Hold, "hold", 0, "stay connected and idle this long before sending (measure memory)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 0, "STOMP heart-beat interval offered and asked for (0 = none; Android apps use 10s)")
	fs.DurationVar(&c.Grace, "grace", 5*time.Second, "after sending, how long to wait for receipts and deliveries")
	fs.DurationVar(&c.SetupTimeout, "setup-timeout", 5*time.Minute, "bound on creating rooms and connecting")
	fs.IntVar(&c.DialConcurrency, "dial-concurrency", 64, "connections opened at once during setup")
	fs.IntVar(&c.CreateAPI, "create-concurrency", 16, "room creations in flight during setup")
	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis to sample INFO cpu and commandstats from (optional)")
	fs.StringVar(&c.Pids, "pids", "", "processes to sample CPU and RSS of, e.g. rcpd=123,mariadb=456 (optional; rcpbench and Redis are added)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write rcpbench's own CPU profile of the send phase to this file")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.complete()
}

// complete fills defaults that depend on other fields and checks bounds.
func (c *config) complete() error {
	if c.Secret == "" {
		return errors.New("--jwt-secret (or RCP_JWT_SECRET) is required to mint tokens")
	}
	if c.Rooms < 1 || c.Members < 1 || c.Rooms*c.Members > 1_000_000 {
		return fmt.Errorf("rooms %d × members %d: want 1 .. 1,000,000 members in all", c.Rooms, c.Members)
	}
	if c.Conns <= 0 || c.Conns > c.Rooms*c.Members {
		c.Conns = c.Rooms * c.Members
	}
	if c.SendersPerRoom < 0 || c.SendersPerRoom > c.Members {
		c.SendersPerRoom = c.Members
	}
	if c.Ack != "auto" && c.Ack != "client" && c.Ack != "client-individual" {
		return fmt.Errorf("ack %q: want auto, client or client-individual", c.Ack)
	}
	if c.Rate < 0 || (c.Rate == 0 && !c.Receipts) {
		return errors.New("--rate 0 (closed loop) needs --receipts: the window is what paces it")
	}
	if c.Window < 1 || c.Duration < 0 || c.Grace <= 0 || c.MaxMessages < 1 {
		return errors.New("--window, --grace and --max-messages must be positive, --duration not negative")
	}
	if c.ImageBytes < 0 || c.Uploads < 0 || c.Uploads > 0 && (c.ImageBytes == 0 || c.Duration <= 0) {
		return errors.New("--uploads needs --image-bytes and a --duration; neither may be negative")
	}
	if c.Uploads > 0 {
		c.Rooms, c.Members = c.Uploads, 1
	}
	if c.API == "" {
		u, err := url.Parse(c.URL)
		if err != nil {
			return fmt.Errorf("url %q: %w", c.URL, err)
		}
		u.Scheme, u.Path = map[string]string{"ws": "http", "wss": "https"}[u.Scheme], ""
		c.API = u.String()
	}
	if c.RunID == "" {
		var b [3]byte
		rand.Read(b[:])
		c.RunID = hex.EncodeToString(b[:])
	}
	return nil
}

// budget is how many messages the run may send: it sizes the tracker.
func (c *config) budget() int {
	n := c.MaxMessages
	if c.Messages > 0 {
		n = min(n, c.Messages)
	} else if c.Rate > 0 {
		n = min(n, int(c.Rate*c.Duration.Seconds())+1)
	}
	if c.Duration == 0 {
		n = 0
	}
	return n
}

func (c *config) roomID(r int) string           { return fmt.Sprintf("bench-%s-%d", c.RunID, r) }
func (c *config) userID(r, m int) string        { return fmt.Sprintf("b%s-%d-%d", c.RunID, r, m) }
func (c *config) dest(r int) string             { return "/app/rooms/" + c.roomID(r) }
func (c *config) topic(r int) string            { return "/topic/rooms/" + c.roomID(r) }
func (c *config) slot(i int) (room, member int) { return i / c.Members, i % c.Members }
