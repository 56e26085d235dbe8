package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors callers branch on.
var (
	ErrNotMember = errors.New("not a member of the room")
	ErrBadID     = errors.New("invalid id")
	ErrNoGroup   = errors.New("member has no consumer group")
	// ErrClientIDUsed: the x-client-id already names a message of another
	// type in the room (a retry must resend the same message).
	ErrClientIDUsed = errors.New("client id already used for another message")
)

// Config tunes the broker.
type Config struct {
	Prefix       string        // key prefix, "rcp"
	Partitions   int           // room partitions, 16
	FeedMaxLen   int64         // approximate MAXLEN of each partition feed
	DedupTTL     time.Duration // how long a client id makes SEND idempotent
	OfflineGrace time.Duration // first look of the escalator after a send
	Logger       *slog.Logger
}

// DefaultConfig is the configuration of DESIGN.md.
func DefaultConfig() Config {
	return Config{Prefix: "rcp", Partitions: 16, FeedMaxLen: 100_000,
		DedupTTL: 24 * time.Hour, OfflineGrace: 2 * time.Second}
}

// Broker is the Redis Streams broker shared by every node.
type Broker struct {
	rdb redis.UniversalClient
	cfg Config
	log *slog.Logger
}

// New returns a broker on rdb (a single Redis or a Cluster client).
func New(rdb redis.UniversalClient, cfg Config) *Broker {
	d := DefaultConfig()
	if cfg.Prefix == "" {
		cfg.Prefix = d.Prefix
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = d.Partitions
	}
	if cfg.FeedMaxLen <= 0 {
		cfg.FeedMaxLen = d.FeedMaxLen
	}
	if cfg.DedupTTL <= 0 {
		cfg.DedupTTL = d.DedupTTL
	}
	if cfg.OfflineGrace <= 0 {
		cfg.OfflineGrace = d.OfflineGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Broker{rdb: rdb, cfg: cfg, log: cfg.Logger}
}

// Redis is the client the broker uses.
func (b *Broker) Redis() redis.UniversalClient { return b.rdb }

// Prefix is the prefix of every key of this deployment.
func (b *Broker) Prefix() string { return b.cfg.Prefix }

// Partitions is the configured partition count.
func (b *Broker) Partitions() int { return b.cfg.Partitions }

// SendRequest is one message to append to a room.
type SendRequest struct {
	Room, Sender string
	Type         string // "text", "image", …
	Body         []byte // the JSON body as stored and delivered
	ClientID     string // optional idempotency key
}

// SendResult says where the message landed.
type SendResult struct {
	ID        string // stream id
	Seq       int64  // the room's sequence number
	Duplicate bool   // an earlier SEND with the same client id already landed
}

// Send appends a message with one Function call: once it returns, every
// member has a pending entry (the sender's own is acknowledged).
func (b *Broker) Send(ctx context.Context, r SendRequest) (SendResult, error) {
	keys, args, err := b.sendCall(r)
	if err != nil {
		return SendResult{}, err
	}
	return sendResult(r, b.fcallOnce(ctx, "rcp_send", keys, args...))
}

// sendCall checks r and returns the keys and arguments of its rcp_send.
func (b *Broker) sendCall(r SendRequest) ([]string, []any, error) {
	if !ValidID(r.Room) || !ValidID(r.Sender) {
		return nil, nil, fmt.Errorf("send to %q as %q: %w", r.Room, r.Sender, ErrBadID)
	}
	if r.ClientID != "" && !ValidID(r.ClientID) {
		return nil, nil, fmt.Errorf("client id %q: %w", r.ClientID, ErrBadID)
	}
	k := b.KeysFor(r.Room)
	// Without a client id the dedup key is unused, yet named: it keeps the
	// key list in one slot.
	keys := []string{k.Room(r.Room), k.Members(r.Room), k.Feed(), k.Heads(), k.Due(), k.Dedup(r.Room, r.ClientID)}
	args := []any{r.Room, r.Sender, r.Type, r.Body, r.ClientID,
		b.cfg.OfflineGrace.Milliseconds(), b.cfg.FeedMaxLen, int64(b.cfg.DedupTTL.Seconds())}
	return keys, args, nil
}

// sendResult reads the reply of an rcp_send call.
func sendResult(r SendRequest, cmd *redis.Cmd) (SendResult, error) {
	res, err := cmd.Slice()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOTMEMBER") {
			return SendResult{}, fmt.Errorf("send to %s as %s: %w", r.Room, r.Sender, ErrNotMember)
		}
		if msg, ok := strings.CutPrefix(err.Error(), "CLIENTIDUSED "); ok {
			return SendResult{}, fmt.Errorf("send to %s: %s: %w", r.Room, msg, ErrClientIDUsed)
		}
		return SendResult{}, fmt.Errorf("send to %s: %w", r.Room, err)
	}
	if len(res) != 3 {
		return SendResult{}, fmt.Errorf("send to %s: unexpected reply %v", r.Room, res)
	}
	id, _ := res[0].(string)
	seq, _ := res[1].(int64)
	dup, _ := res[2].(int64)
	return SendResult{ID: id, Seq: seq, Duplicate: dup == 1}, nil
}

// ClientIDType returns the type of the message a SEND with client id cid
// stored in room within the dedup window ("" for a record older than
// library version 5), and whether there is one.
func (b *Broker) ClientIDType(ctx context.Context, room, cid string) (string, bool, error) {
	v, err := b.rdb.Get(ctx, b.KeysFor(room).Dedup(room, cid)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("client id %s in %s: %w", cid, room, err)
	}
	f := strings.Fields(v)
	if len(f) < 3 {
		return "", true, nil
	}
	return f[2], true, nil
}

// fcallOnce is FCall without go-redis's resend after a network error: the
// first attempt may have run with its reply lost, and running rcp_send
// twice stores the message twice. The error reaches the client instead,
// which retries with its x-client-id (deduplicated by the Function).
func (b *Broker) fcallOnce(ctx context.Context, function string, keys []string, args ...any) *redis.Cmd {
	cmd := fcallCmd(ctx, function, keys, args)
	_ = b.rdb.Process(ctx, noRetryCmd{cmd})
	return cmd
}

// fcallCmd builds an FCALL command (first key at position 3, for Cluster
// routing).
func fcallCmd(ctx context.Context, function string, keys []string, args []any) *redis.Cmd {
	cmdArgs := make([]any, 0, 3+len(keys)+len(args))
	cmdArgs = append(cmdArgs, "fcall", function, len(keys))
	for _, k := range keys {
		cmdArgs = append(cmdArgs, k)
	}
	cmd := redis.NewCmd(ctx, append(cmdArgs, args...)...)
	cmd.SetFirstKeyPos(3)
	return cmd
}

// noRetryCmd marks a command go-redis must not resend.
type noRetryCmd struct{ *redis.Cmd }

func (noRetryCmd) NoRetry() bool { return true }

// Join makes user a member of room: its consumer group starts at the room's
// newest entry. It reports whether the user was new.
func (b *Broker) Join(ctx context.Context, room, user string) (bool, error) {
	if !ValidID(room) || !ValidID(user) {
		return false, fmt.Errorf("join %q to %q: %w", user, room, ErrBadID)
	}
	k := b.KeysFor(room)
	n, err := b.rdb.FCall(ctx, "rcp_join", []string{k.Room(room), k.Members(room), k.Heads()}, room, user).Int()
	if err != nil {
		return false, fmt.Errorf("join %s to %s: %w", user, room, err)
	}
	return n == 1, nil
}

// Leave removes user from room with its group and pending entries.
func (b *Broker) Leave(ctx context.Context, room, user string) (bool, error) {
	if !ValidID(room) || !ValidID(user) {
		return false, fmt.Errorf("leave %q from %q: %w", user, room, ErrBadID)
	}
	k := b.KeysFor(room)
	n, err := b.rdb.FCall(ctx, "rcp_leave", []string{k.Room(room), k.Members(room)}, user).Int()
	if err != nil {
		return false, fmt.Errorf("leave %s from %s: %w", user, room, err)
	}
	return n == 1, nil
}

// IsMember reports whether user is a member of room.
func (b *Broker) IsMember(ctx context.Context, room, user string) (bool, error) {
	if !ValidID(room) || !ValidID(user) {
		return false, nil
	}
	ok, err := b.rdb.SIsMember(ctx, b.KeysFor(room).Members(room), user).Result()
	if err != nil {
		return false, fmt.Errorf("is %s a member of %s: %w", user, room, err)
	}
	return ok, nil
}

// Members returns the room's member ids.
func (b *Broker) Members(ctx context.Context, room string) ([]string, error) {
	m, err := b.rdb.SMembers(ctx, b.KeysFor(room).Members(room)).Result()
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", room, err)
	}
	return m, nil
}

// Ack acknowledges the listed entries for user.
func (b *Broker) Ack(ctx context.Context, room, user string, ids ...string) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n, err := b.rdb.XAck(ctx, b.KeysFor(room).Room(room), Group(user), ids...).Result()
	if err != nil {
		return 0, fmt.Errorf("ack %d in %s for %s: %w", len(ids), room, user, err)
	}
	return n, nil
}

// AckUpTo acknowledges every entry pending for user up to and including id.
func (b *Broker) AckUpTo(ctx context.Context, room, user, id string) (int64, error) {
	if _, err := ParseID(id); err != nil {
		return 0, err
	}
	key := b.KeysFor(room).Room(room)
	var total int64
	for {
		res, err := b.rdb.FCall(ctx, "rcp_ack_upto", []string{key}, user, id).Int64Slice()
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				return total, fmt.Errorf("ack up to %s in %s for %s: %w", id, room, user, ErrNoGroup)
			}
			return total, fmt.Errorf("ack up to %s in %s for %s: %w", id, room, user, err)
		}
		total += res[0]
		if res[1] == 0 {
			return total, nil
		}
	}
}

// StreamID is a parsed stream id: milliseconds and sequence.
type StreamID struct{ Ms, Seq uint64 }

// ParseID parses "ms-seq".
func ParseID(s string) (StreamID, error) {
	a, b, ok := strings.Cut(s, "-")
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return StreamID{}, fmt.Errorf("stream id %q: %w", s, ErrBadID)
	}
	return StreamID{ms, seq}, nil
}

func (id StreamID) String() string {
	return strconv.FormatUint(id.Ms, 10) + "-" + strconv.FormatUint(id.Seq, 10)
}

// Less orders ids as Redis does.
func (id StreamID) Less(o StreamID) bool {
	return id.Ms < o.Ms || (id.Ms == o.Ms && id.Seq < o.Seq)
}
