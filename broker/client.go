package broker

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Dial returns a client for RCP_REDIS_URL: one redis:// URL for a single
// Redis, or several comma-separated host:port addresses (or URLs) for a
// Cluster. The pool leaves room for one blocking feed read per partition.
func Dial(url string, partitions int) (redis.UniversalClient, error) {
	parts := strings.Split(url, ",")
	pool := 10*runtime.GOMAXPROCS(0) + partitions
	if len(parts) == 1 {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis url %q: %w", url, err)
		}
		opt.PoolSize = pool
		return redis.NewClient(opt), nil
	}
	addrs := make([]string, len(parts))
	copt := &redis.ClusterOptions{PoolSize: pool}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "://") {
			opt, err := redis.ParseURL(p)
			if err != nil {
				return nil, fmt.Errorf("redis url %q: %w", p, err)
			}
			if opt.DB != 0 {
				return nil, fmt.Errorf("redis url %q: a Redis Cluster has database 0 only", p)
			}
			// Credentials and TLS (rediss://) of the URLs apply to every
			// node, also those the client learns from the cluster itself.
			if opt.Username != "" || opt.Password != "" {
				copt.Username, copt.Password = opt.Username, opt.Password
			}
			if opt.TLSConfig != nil {
				copt.TLSConfig = opt.TLSConfig
			}
			p = opt.Addr
		}
		addrs[i] = p
	}
	copt.Addrs = addrs
	return redis.NewClusterClient(copt), nil
}

// Ping checks that Redis answers; on a Cluster, every primary does (a
// Cluster client's own PING asks one node, so a readiness check built on it
// would pass or fail at random while a primary is down).
func (b *Broker) Ping(ctx context.Context) error {
	c, ok := b.rdb.(*redis.ClusterClient)
	if !ok {
		return b.rdb.Ping(ctx).Err()
	}
	return c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if err := n.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("primary %s: %w", n.Options().Addr, err)
		}
		return nil
	})
}
