package broker

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"

	"github.com/redis/go-redis/v9"
)

//go:embed rcp.lua
var library string

// LibraryVersion is the LIBRARY_VERSION of the embedded rcp.lua.
var LibraryVersion = regexp.MustCompile(`LIBRARY_VERSION = '(\d+)'`).FindStringSubmatch(library)[1]

// LoadFunctions makes sure every primary runs this build's library: it asks
// each for rcp_version and loads the library with FUNCTION LOAD REPLACE
// where it is missing or different.
func (b *Broker) LoadFunctions(ctx context.Context) error {
	load := func(ctx context.Context, c *redis.Client) error {
		v, err := c.FCallRO(ctx, "rcp_version", nil).Text()
		if err == nil && v == LibraryVersion {
			return nil
		}
		if err != nil && !isMissingFunction(err) {
			return fmt.Errorf("rcp_version on %s: %w", c.Options().Addr, err)
		}
		if err := c.FunctionLoadReplace(ctx, library).Err(); err != nil {
			return fmt.Errorf("function load on %s: %w", c.Options().Addr, err)
		}
		b.log.Info("loaded redis functions", "addr", c.Options().Addr, "version", LibraryVersion, "was", v)
		return nil
	}
	switch c := b.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, load)
	case *redis.Client:
		return load(ctx, c)
	}
	return fmt.Errorf("load functions: unsupported client %T", b.rdb)
}

func isMissingFunction(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && regexp.MustCompile(`(?i)function not found`).MatchString(re.Error())
}
