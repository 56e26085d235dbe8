package ackpending

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rcp/rcp/sqlc/rcpdb"
)

// Device errors callers branch on.
var (
	ErrInvalidToken    = errors.New("invalid device token")
	ErrInvalidPlatform = errors.New("invalid platform: want android, ios or web")
)

// tokenPattern is the charset of FCM registration tokens (they also name
// hash fields of the cache, whose own fields start with '~').
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9_:.=-]{1,512}$`)

// Device is one registered FCM token of a user.
type Device struct {
	Token    string
	User     string
	Platform string // android, ios or web
}

// DevicesConfig tunes the device store.
type DevicesConfig struct {
	Prefix     string        // Redis key prefix, "rcp"
	CacheTTL   time.Duration // lifetime of a user's cached device list (1 h)
	MaxPerUser int           // newest devices kept per user (10)
}

// Devices stores device tokens in MySQL (table devices, through sqlc) and
// caches each user's tokens in the Redis HASH DevicesKey: token → platform,
// plus ~loaded (filled from MySQL) and ~v (bumped by every change, so a
// fill that raced a change is dropped).
type Devices struct {
	q   *rcpdb.Queries
	rdb redis.UniversalClient
	cfg DevicesConfig
}

// NewDevices returns the device store.
func NewDevices(db *sql.DB, rdb redis.UniversalClient, cfg DevicesConfig) *Devices {
	if cfg.Prefix == "" {
		cfg.Prefix = "rcp"
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Hour
	}
	if cfg.MaxPerUser <= 0 {
		cfg.MaxPerUser = 10
	}
	return &Devices{q: rcpdb.New(db), rdb: rdb, cfg: cfg}
}

// ValidateDevice checks a token and platform as clients send them.
func ValidateDevice(token, platform string) error {
	if !tokenPattern.MatchString(token) {
		return fmt.Errorf("%w: 1 to 512 of A-Z a-z 0-9 _ : . = -", ErrInvalidToken)
	}
	if !rcpdb.DevicesPlatform(platform).Valid() {
		return fmt.Errorf("%q: %w", platform, ErrInvalidPlatform)
	}
	return nil
}

// Register stores (or refreshes) user's device. A token registered by
// another user before moves to this one. Beyond MaxPerUser the user's
// oldest devices are dropped. created is false when user had the token
// already.
func (d *Devices) Register(ctx context.Context, user, token, platform string) (created bool, err error) {
	if err := ValidateDevice(token, platform); err != nil {
		return false, err
	}
	prev, err := d.q.GetDevice(ctx, token)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("register device of %s: %w", user, err)
	}
	created = prev.UserID != user
	err = d.q.UpsertDevice(ctx, rcpdb.UpsertDeviceParams{Token: token, UserID: user,
		Platform: rcpdb.DevicesPlatform(platform), UpdatedAt: time.Now().UTC()})
	if err != nil {
		return false, fmt.Errorf("register device of %s: %w", user, err)
	}
	if prev.UserID != "" && prev.UserID != user {
		if err := d.uncache(ctx, prev.UserID, token); err != nil {
			return false, err
		}
	}
	if err := d.cache(ctx, user, token, platform); err != nil {
		return false, err
	}
	return created, d.trim(ctx, user)
}

// trim drops the user's devices beyond the newest MaxPerUser.
func (d *Devices) trim(ctx context.Context, user string) error {
	all, err := d.q.ListUserDevices(ctx, user)
	if err != nil {
		return fmt.Errorf("devices of %s: %w", user, err)
	}
	for _, dev := range all[min(len(all), d.cfg.MaxPerUser):] {
		if err := d.Remove(ctx, user, dev.Token); err != nil {
			return err
		}
	}
	return nil
}

// Unregister deletes one of user's devices; false when user had no such
// token.
func (d *Devices) Unregister(ctx context.Context, user, token string) (bool, error) {
	n, err := d.q.DeleteUserDevice(ctx, rcpdb.DeleteUserDeviceParams{Token: token, UserID: user})
	if err != nil {
		return false, fmt.Errorf("unregister device of %s: %w", user, err)
	}
	return n > 0, d.uncache(ctx, user, token)
}

// Remove deletes a token FCM refused (unregistered or invalid), whoever
// owns it now, and drops it from user's cache.
func (d *Devices) Remove(ctx context.Context, user, token string) error {
	if _, err := d.q.DeleteDevice(ctx, token); err != nil {
		return fmt.Errorf("remove device of %s: %w", user, err)
	}
	return d.uncache(ctx, user, token)
}

func (d *Devices) cache(ctx context.Context, user, token, platform string) error {
	key := DevicesKey(d.cfg.Prefix, user)
	pipe := d.rdb.TxPipeline()
	pipe.HSet(ctx, key, token, platform)
	pipe.HIncrBy(ctx, key, "~v", 1)
	pipe.PExpire(ctx, key, d.cfg.CacheTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("cache device of %s: %w", user, err)
	}
	return nil
}

func (d *Devices) uncache(ctx context.Context, user, token string) error {
	key := DevicesKey(d.cfg.Prefix, user)
	pipe := d.rdb.TxPipeline()
	pipe.HDel(ctx, key, token)
	pipe.HIncrBy(ctx, key, "~v", 1)
	pipe.PExpire(ctx, key, d.cfg.CacheTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("uncache device of %s: %w", user, err)
	}
	return nil
}

// Tokens returns the devices of each user: from the Redis cache, or from
// MySQL for the users not cached (then cached).
func (d *Devices) Tokens(ctx context.Context, users []string) (map[string][]Device, error) {
	if len(users) == 0 {
		return map[string][]Device{}, nil
	}
	pipe := d.rdb.Pipeline()
	cmds := d.queueCached(ctx, pipe, users)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("cached devices of %d users: %w", len(users), err)
	}
	return d.fromCache(ctx, users, cmds)
}

// queueCached queues the cache reads of users' devices on pipe.
func (d *Devices) queueCached(ctx context.Context, pipe redis.Pipeliner, users []string) []*redis.MapStringStringCmd {
	cmds := make([]*redis.MapStringStringCmd, len(users))
	for i, u := range users {
		cmds[i] = pipe.HGetAll(ctx, DevicesKey(d.cfg.Prefix, u))
	}
	return cmds
}

// fromCache turns executed cache reads into devices, loading the users not
// cached from MySQL.
func (d *Devices) fromCache(ctx context.Context, users []string, cmds []*redis.MapStringStringCmd) (map[string][]Device, error) {
	out := make(map[string][]Device, len(users))
	versions := make(map[string]string)
	var missing []string
	for i, u := range users {
		h := cmds[i].Val()
		if h["~loaded"] == "" {
			versions[u] = h["~v"]
			missing = append(missing, u)
			continue
		}
		for tok, plat := range h {
			if !strings.HasPrefix(tok, "~") {
				out[u] = append(out[u], Device{Token: tok, User: u, Platform: plat})
			}
		}
	}
	return out, d.load(ctx, missing, versions, out)
}

// load reads users' devices from MySQL into out and fills their caches.
func (d *Devices) load(ctx context.Context, users []string, versions map[string]string, out map[string][]Device) error {
	for len(users) > 0 {
		n := min(len(users), 500)
		rows, err := d.q.ListDevicesOfUsers(ctx, users[:n])
		if err != nil {
			return fmt.Errorf("devices of %d users: %w", n, err)
		}
		for _, r := range rows {
			out[r.UserID] = append(out[r.UserID], Device{Token: r.Token, User: r.UserID, Platform: string(r.Platform)})
		}
		pipe := d.rdb.Pipeline()
		for _, u := range users[:n] {
			v := versions[u]
			if v == "" {
				v = "0"
			}
			args := []any{v, d.cfg.CacheTTL.Milliseconds()}
			for _, dev := range out[u] {
				args = append(args, dev.Token, dev.Platform)
			}
			pipe.FCall(ctx, "rcpesc_devices_fill", []string{DevicesKey(d.cfg.Prefix, u)}, args...)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("cache devices of %d users: %w", n, err)
		}
		users = users[n:]
	}
	return nil
}
