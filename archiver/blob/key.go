package blob

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key accepted, in bytes; MaxSegmentLen the longest
// '/'-separated segment (a file name on disk).
const (
	MaxKeyLen     = 512
	MaxSegmentLen = 255
)

// ValidKey reports whether key is acceptable to every Store, with ErrBadKey
// wrapped in the error when it is not. A key is 1 to MaxKeyLen characters of
// [A-Za-z0-9/_.-], made of non-empty '/'-separated segments (no leading,
// trailing or doubled '/') of at most MaxSegmentLen bytes, none of them "."
// and no ".." anywhere. The same
// key thus names the same file on disk and the same object in S3.
func ValidKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrBadKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadKey, len(key), MaxKeyLen)
	case strings.Contains(key, ".."):
		return fmt.Errorf("%w: %q contains \"..\"", ErrBadKey, key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '/' || c == '_' || c == '.' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q: byte %d (%q) is not in [A-Za-z0-9/_.-]", ErrBadKey, key, i, c)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." {
			return fmt.Errorf("%w: %q: empty or \".\" path segment", ErrBadKey, key)
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: a path segment of %d bytes, more than %d", ErrBadKey, len(seg), MaxSegmentLen)
		}
	}
	return nil
}
