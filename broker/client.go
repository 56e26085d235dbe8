package broker

import (
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
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if strings.Contains(p, "://") {
			opt, err := redis.ParseURL(p)
			if err != nil {
				return nil, fmt.Errorf("redis url %q: %w", p, err)
			}
			p = opt.Addr
		}
		addrs[i] = p
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, PoolSize: pool}), nil
}
