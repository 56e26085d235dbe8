package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcp/rcp/archiver/blob"
	"github.com/rcp/rcp/media"
)

// mediaConfig is the blob store's and images' part of the config
// (docs/blobs.md). RCP_S3_BUCKET selects S3, else RCP_BLOB_DIR the local
// directory; with neither, image messages are refused.
type mediaConfig struct {
	BlobDir   string        // RCP_BLOB_DIR
	URLSecret string        // RCP_BLOB_URL_SECRET, disk store URLs
	PublicURL string        // RCP_BLOB_PUBLIC_URL, base of disk store URLs
	URLTTL    time.Duration // RCP_BLOB_URL_TTL
	S3        blob.S3Config // RCP_S3_*
	ImageMax  int64         // RCP_IMAGE_MAX_BYTES
	InlineMax int64         // RCP_IMAGE_INLINE_MAX
	Memory    int64         // RCP_IMAGE_MEMORY
}

func parseInt64(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

func (m *mediaConfig) register(fs *flag.FlagSet) {
	def := media.DefaultConfig()
	fs.StringVar(&m.BlobDir, "blob-dir", env("RCP_BLOB_DIR", ""), "local blob directory, used when no S3 bucket is set (RCP_BLOB_DIR)")
	fs.StringVar(&m.URLSecret, "blob-url-secret", env("RCP_BLOB_URL_SECRET", ""), "signing secret of the local blob store's URLs, ≥ 16 bytes, the same on every node (RCP_BLOB_URL_SECRET)")
	fs.StringVar(&m.PublicURL, "blob-public-url", env("RCP_BLOB_PUBLIC_URL", ""), "base URL clients reach rcpd at, for local blob URLs; default http://<listen address> (RCP_BLOB_PUBLIC_URL)")
	fs.DurationVar(&m.URLTTL, "blob-url-ttl", envDuration("RCP_BLOB_URL_TTL", def.URLTTL), "lifetime of image URLs in delivered messages (RCP_BLOB_URL_TTL)")
	fs.StringVar(&m.S3.Endpoint, "s3-endpoint", env("RCP_S3_ENDPOINT", ""), "S3 endpoint URL, empty = AWS (RCP_S3_ENDPOINT)")
	fs.StringVar(&m.S3.Region, "s3-region", env("RCP_S3_REGION", "us-east-1"), "S3 region (RCP_S3_REGION)")
	fs.StringVar(&m.S3.Bucket, "s3-bucket", env("RCP_S3_BUCKET", ""), "S3 bucket; setting it selects the S3 blob store (RCP_S3_BUCKET)")
	fs.StringVar(&m.S3.AccessKey, "s3-access-key", env("RCP_S3_ACCESS_KEY", ""), "S3 access key; empty with the secret key = the SDK's default chain (RCP_S3_ACCESS_KEY)")
	fs.StringVar(&m.S3.SecretKey, "s3-secret-key", env("RCP_S3_SECRET_KEY", ""), "S3 secret key (RCP_S3_SECRET_KEY)")
	fs.BoolVar(&m.S3.PathStyle, "s3-path-style", envBool("RCP_S3_PATH_STYLE"), "path-style S3 addressing, for most S3-compatible servers (RCP_S3_PATH_STYLE)")
	fs.Int64Var(&m.ImageMax, "image-max-bytes", envParsed("RCP_IMAGE_MAX_BYTES", def.Limits.MaxBytes, parseInt64), "largest image, decoded bytes (RCP_IMAGE_MAX_BYTES)")
	fs.Int64Var(&m.InlineMax, "image-inline-max", envParsed("RCP_IMAGE_INLINE_MAX", def.InlineMax, parseInt64), "images up to this size also travel inline as base64 in MESSAGE bodies, 0 = never (RCP_IMAGE_INLINE_MAX)")
	fs.Int64Var(&m.Memory, "image-memory", envParsed("RCP_IMAGE_MEMORY", def.Memory, parseInt64), "image bytes handled at once over all SENDs and uploads (RCP_IMAGE_MEMORY)")
}

// enabled reports whether a blob store is configured.
func (m mediaConfig) enabled() bool { return m.S3.Bucket != "" || m.BlobDir != "" }

func (m mediaConfig) serviceConfig() media.Config {
	c := media.DefaultConfig()
	c.Limits.MaxBytes, c.InlineMax, c.URLTTL, c.Memory = m.ImageMax, m.InlineMax, m.URLTTL, m.Memory
	return c
}

func (m mediaConfig) validate() error {
	if !m.enabled() {
		return nil
	}
	if m.S3.Bucket == "" && len(m.URLSecret) < blob.MinSecretLen {
		return fmt.Errorf("RCP_BLOB_URL_SECRET: %d bytes, the local blob store needs at least %d", len(m.URLSecret), blob.MinSecretLen)
	}
	return m.serviceConfig().Validate()
}

// imageMaxBody is the STOMP body an image of max bytes needs: its base64
// and the JSON around it.
func imageMaxBody(max int64) int { return int((max+2)/3*4 + 64<<10) }

// openMedia opens the blob store and the image service; nil, nil when no
// store is configured. The handler serves disk store URLs (nil for S3).
func openMedia(ctx context.Context, cfg config, db *sql.DB, log *slog.Logger) (*media.Service, http.Handler, error) {
	m := cfg.Media
	if !m.enabled() {
		log.Info("image messages off: set RCP_BLOB_DIR or RCP_S3_BUCKET")
		return nil, nil, nil
	}
	var store blob.Store
	var handler http.Handler
	if m.S3.Bucket != "" {
		s3, err := blob.NewS3Store(ctx, m.S3)
		if err != nil {
			return nil, nil, err
		}
		if err := s3.EnsureBucket(ctx); err != nil {
			return nil, nil, err
		}
		store = s3
		log.Info("blob store: s3", "endpoint", m.S3.Endpoint, "bucket", m.S3.Bucket)
	} else {
		public := m.PublicURL
		if public == "" {
			public = "http://" + listenHost(cfg.Listen)
		}
		disk, err := blob.NewDiskStore(m.BlobDir, public, []byte(m.URLSecret))
		if err != nil {
			return nil, nil, err
		}
		store, handler = disk, disk.Handler()
		log.Info("blob store: local directory", "dir", m.BlobDir, "urls", public)
	}
	svc, err := media.New(store, db, m.serviceConfig(), log)
	if err != nil {
		return nil, nil, err
	}
	return svc, handler, nil
}

// listenHost turns a listen address into one clients can reach: ":8080"
// becomes "127.0.0.1:8080".
func listenHost(listen string) string {
	if strings.HasPrefix(listen, ":") {
		return "127.0.0.1" + listen
	}
	return listen
}
