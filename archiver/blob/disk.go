package blob

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
)

// DiskStore keeps blobs in a local directory: DIR/objects/<key>, written
// through DIR/tmp/ and renamed into place (atomic on one filesystem). Every
// file operation goes through an os.Root, so no key, symlink or race can
// reach outside DIR. A file starts with one header line holding the content
// type ("rcpblob1 <type>\n"), then the bytes. URLs are signed with HMAC-SHA256
// and served by Handler (sign.go).
type DiskStore struct {
	root    *os.Root
	baseURL string
	secret  []byte
	now     func() time.Time
}

var _ Store = (*DiskStore)(nil)

const (
	diskObjects = "objects"
	diskTmp     = "tmp"
	diskMagic   = "rcpblob1 "
	// maxContentType bounds the header line.
	maxContentType = 255
	// MinSecretLen is the shortest URL signing secret NewDiskStore accepts.
	MinSecretLen = 16
)

// NewDiskStore opens (creating it if needed) the store in dir. URLs are
// baseURL + "/v1/blobs/<key>?exp=…&sig=…", signed with secret (at least
// MinSecretLen bytes; keep it stable across restarts and nodes, or issued
// URLs stop working).
func NewDiskStore(dir, baseURL string, secret []byte) (*DiskStore, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("blob: disk store: url secret has %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	for _, sub := range []string{diskObjects, diskTmp} {
		if err := os.MkdirAll(path.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("blob: disk store: %w", err)
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: disk store: %w", err)
	}
	return &DiskStore{
		root:    root,
		baseURL: strings.TrimRight(baseURL, "/"),
		secret:  append([]byte(nil), secret...),
		now:     time.Now,
	}, nil
}

// Close releases the directory handle.
func (s *DiskStore) Close() error { return s.root.Close() }

func checkContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	if len(ct) > maxContentType {
		return "", fmt.Errorf("blob: content type longer than %d bytes", maxContentType)
	}
	for i := 0; i < len(ct); i++ {
		if ct[i] < 0x20 || ct[i] > 0x7e {
			return "", fmt.Errorf("blob: content type %q: not printable ASCII", ct)
		}
	}
	return ct, nil
}

// Put implements Store.
func (s *DiskStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	ct, err := checkContentType(contentType)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("blob: put %q: negative size %d", key, size)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	dst := path.Join(diskObjects, key)
	if err := s.root.MkdirAll(path.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(diskTmp, hex.EncodeToString(rnd[:]))
	if err := s.writeTmp(ctx, tmp, r, size, ct); err != nil {
		_ = s.root.Remove(tmp)
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	if err := s.root.Rename(tmp, dst); err != nil {
		_ = s.root.Remove(tmp)
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	return nil
}

func (s *DiskStore) writeTmp(ctx context.Context, tmp string, r io.Reader, size int64, ct string) error {
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	_, err = w.WriteString(diskMagic + ct + "\n")
	if err == nil {
		err = copyExact(w, ctxReader{ctx, r}, size)
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// notFound reports whether err means "no file there" (also: a path
// component is a file, or the key names a directory).
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// open opens the blob file and reads its header.
func (s *DiskStore) open(key string) (*os.File, *io.SectionReader, Info, error) {
	if err := ValidKey(key); err != nil {
		return nil, nil, Info{}, err
	}
	f, err := s.root.Open(path.Join(diskObjects, key))
	if notFound(err) {
		return nil, nil, Info{}, fmt.Errorf("blob: get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, nil, Info{}, fmt.Errorf("blob: get %q: %w", key, err)
	}
	st, err := f.Stat()
	if err == nil && st.IsDir() {
		_ = f.Close()
		return nil, nil, Info{}, fmt.Errorf("blob: get %q: %w", key, ErrNotFound)
	}
	var ct string
	var hdr int64
	if err == nil {
		ct, hdr, err = readHeader(f)
	}
	if err != nil {
		_ = f.Close()
		return nil, nil, Info{}, fmt.Errorf("blob: get %q: %w", key, err)
	}
	info := Info{Size: st.Size() - hdr, ContentType: ct, ModTime: st.ModTime()}
	return f, io.NewSectionReader(f, hdr, info.Size), info, nil
}

func readHeader(f *os.File) (string, int64, error) {
	buf := make([]byte, len(diskMagic)+maxContentType+1)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", 0, err
	}
	line, _, ok := strings.Cut(string(buf[:n]), "\n")
	if !ok || !strings.HasPrefix(line, diskMagic) {
		return "", 0, errors.New("blob: corrupt blob file header")
	}
	return strings.TrimPrefix(line, diskMagic), int64(len(line) + 1), nil
}

// Get implements Store.
func (s *DiskStore) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, Info{}, fmt.Errorf("blob: get %q: %w", key, err)
	}
	f, sec, info, err := s.open(key)
	if err != nil {
		return nil, Info{}, err
	}
	return readCloser{sec, f}, info, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Ping implements Store: the objects directory is there and is a directory.
func (s *DiskStore) Ping(context.Context) error {
	fi, err := s.root.Stat(diskObjects)
	if err != nil {
		return fmt.Errorf("blob: disk store: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("blob: disk store: %s is not a directory", diskObjects)
	}
	return nil
}

// Delete implements Store. Emptied directories are left in place (removing
// them would race with a concurrent Put into them).
func (s *DiskStore) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	name := path.Join(diskObjects, key)
	st, err := s.root.Lstat(name)
	if notFound(err) || err == nil && st.IsDir() {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	if err := s.root.Remove(name); err != nil && !notFound(err) {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	return nil
}
