package broker

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

//go:embed rcp.lua
var library string

// Library is one Redis Function library: its source starts with
// `#!lua name=<Name>`, sets LIBRARY_VERSION = '<n>' and registers a
// no-writes function `<Name>_version` that returns it.
type Library struct {
	Name, Version, Code string
}

var (
	libName    = regexp.MustCompile(`^#!lua name=(\w+)`)
	libVersion = regexp.MustCompile(`LIBRARY_VERSION = '(\d+)'`)
)

// ParseLibrary reads a library's name and version from its source.
func ParseLibrary(code string) (Library, error) {
	n := libName.FindStringSubmatch(code)
	v := libVersion.FindStringSubmatch(code)
	if n == nil || v == nil {
		return Library{}, errors.New("redis library: missing `#!lua name=` or LIBRARY_VERSION")
	}
	return Library{Name: n[1], Version: v[1], Code: code}, nil
}

// MustParseLibrary is ParseLibrary for embedded sources: a malformed one
// is a build defect, so it panics.
func MustParseLibrary(code string) Library {
	l, err := ParseLibrary(code)
	if err != nil {
		panic(err)
	}
	return l
}

// rcpLibrary is the broker's own library (rcp.lua).
var rcpLibrary = MustParseLibrary(library)

// LibraryVersion is the version of the embedded rcp.lua.
var LibraryVersion = rcpLibrary.Version

// LoadFunctions loads the broker's library; see LoadLibrary.
func (b *Broker) LoadFunctions(ctx context.Context) error {
	return b.LoadLibrary(ctx, rcpLibrary)
}

// LoadLibrary makes sure every primary runs this build's version of lib: it
// asks each for <name>_version and loads the library with FUNCTION LOAD
// REPLACE where it is missing or different.
func (b *Broker) LoadLibrary(ctx context.Context, lib Library) error {
	load := func(ctx context.Context, c *redis.Client) error {
		v, err := c.FCallRO(ctx, lib.Name+"_version", nil).Text()
		if err == nil && v == lib.Version {
			return nil
		}
		if err != nil && !isMissingFunction(err) {
			return fmt.Errorf("%s_version on %s: %w", lib.Name, c.Options().Addr, err)
		}
		if err := c.FunctionLoadReplace(ctx, lib.Code).Err(); err != nil {
			return fmt.Errorf("function load %s on %s: %w", lib.Name, c.Options().Addr, err)
		}
		b.log.Info("loaded redis functions", "library", lib.Name, "addr", c.Options().Addr, "version", lib.Version, "was", v)
		return nil
	}
	switch c := b.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, load)
	case *redis.Client:
		if clusterNode(ctx, c) {
			return fmt.Errorf("%s is a node of a Redis Cluster: name the cluster in RCP_REDIS_URL with several comma-separated addresses", c.Options().Addr)
		}
		return load(ctx, c)
	}
	return fmt.Errorf("load functions: unsupported client %T", b.rdb)
}

// clusterNode reports whether a single-node client talks to a Cluster node:
// it would serve the partitions of that node and fail with MOVED for the
// others. A server that does not answer INFO is given the benefit of doubt.
func clusterNode(ctx context.Context, c *redis.Client) bool {
	info, err := c.Info(ctx, "cluster").Result()
	return err == nil && strings.Contains(info, "cluster_enabled:1")
}

func isMissingFunction(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.Contains(strings.ToLower(re.Error()), "function not found")
}
