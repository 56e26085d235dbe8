package archiver

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/rcp/rcp/broker"
)

//go:embed archive.lua
var librarySource string

// Library is the archiver's Redis Function library, rcparch.
var Library = broker.MustParseLibrary(librarySource)

// LoadFunctions loads rcparch on every primary (when missing or older).
func LoadFunctions(ctx context.Context, b *broker.Broker) error {
	if err := b.LoadLibrary(ctx, Library); err != nil {
		return fmt.Errorf("archiver functions: %w", err)
	}
	return nil
}
