package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Config configures an S3Store (docs/blobs.md lists the RCP_S3_* names).
type S3Config struct {
	// Endpoint overrides the AWS endpoint, e.g. "http://127.0.0.1:29000" for
	// an S3-compatible server; empty means AWS itself.
	Endpoint string
	Region   string
	Bucket   string
	// AccessKey and SecretKey are static credentials; when both are empty
	// the SDK's default chain (environment, shared files, IAM role) is used.
	AccessKey string
	SecretKey string
	// PathStyle addresses ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY
	// (what most S3-compatible servers want).
	PathStyle bool
	// HTTPClient, if set, replaces the SDK's default client.
	HTTPClient *http.Client
}

// S3Store keeps blobs as objects of one bucket; the key is the object key.
type S3Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

var _ Store = (*S3Store)(nil)

// MaxURLTTL is the longest ttl S3Store.URL signs (the SigV4 limit).
const MaxURLTTL = 7 * 24 * time.Hour

// NewS3Store builds the client; it makes no request (see EnsureBucket).
func NewS3Store(ctx context.Context, cfg S3Config) (*S3Store, error) {
	if cfg.Bucket == "" || cfg.Region == "" {
		return nil, errors.New("blob: s3 store: bucket and region are required")
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, errors.New("blob: s3 store: set both access key and secret key, or neither")
	}
	opts := func(o *s3.Options) {
		o.Region = cfg.Region
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.HTTPClient != nil {
			o.HTTPClient = cfg.HTTPClient
		}
	}
	var client *s3.Client
	if cfg.AccessKey != "" {
		client = s3.New(s3.Options{
			Credentials: credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		}, opts)
	} else {
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("blob: s3 store: aws config: %w", err)
		}
		client = s3.NewFromConfig(awsCfg, opts)
	}
	return &S3Store{client: client, presign: s3.NewPresignClient(client), bucket: cfg.Bucket}, nil
}

// Client is the underlying SDK client (for tests and operations tooling).
func (s *S3Store) Client() *s3.Client { return s.client }

// Bucket is the bucket's name.
func (s *S3Store) Bucket() string { return s.bucket }

// EnsureBucket creates the bucket unless it exists already (and is ours).
func (s *S3Store) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return fmt.Errorf("blob: head bucket %q: %w", s.bucket, err)
	}
	_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &s.bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("blob: create bucket %q: %w", s.bucket, err)
	}
	return nil
}

// Ping implements Store: HeadBucket.
func (s *S3Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket}); err != nil {
		return fmt.Errorf("blob: head bucket %q: %w", s.bucket, err)
	}
	return nil
}

// isNotFound: the S3 error for a missing object or bucket (HEAD responses
// carry no error code, only the 404).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	var nsb *types.NoSuchBucket
	if errors.As(err, &nsk) || errors.As(err, &nf) || errors.As(err, &nsb) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchBucket":
			return true
		}
	}
	return false
}

// Put implements Store; size is sent as Content-Length. An io.ReadSeeker
// (e.g. a bytes.Reader) is read twice: once for the payload hash that SigV4
// signs, once to send it, so the server rejects any altered byte. Any other
// reader is streamed once with an UNSIGNED-PAYLOAD signature (integrity then
// rests on TLS, or on nothing over plain HTTP).
func (s *S3Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
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
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          r,
		ContentLength: aws.Int64(size),
		ContentType:   &ct,
	}
	var opts []func(*s3.Options)
	if _, ok := r.(io.ReadSeeker); !ok {
		// SigV4 over plain HTTP needs the payload's SHA-256 before sending,
		// which a stream cannot give: send it unsigned (see docs/blobs.md).
		in.Body = &exactReader{r: r, left: size}
		opts = append(opts, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	}
	_, err = s.client.PutObject(ctx, in, opts...)
	if err != nil {
		return fmt.Errorf("blob: put %q: %w", key, err)
	}
	return nil
}

// exactReader yields the size bytes of r and fails (instead of reaching
// EOF) when r ends early or holds more. It checks for extra bytes before it
// hands out the last ones, so the server never receives a complete body of
// the wrong blob and stores nothing.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left == 0 {
		var one [1]byte
		if m, _ := io.ReadFull(e.r, one[:]); m > 0 {
			return 0, errors.New("blob: body longer than size")
		}
		return n, io.EOF
	}
	if errors.Is(err, io.EOF) {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ValidKey(key); err != nil {
		return nil, Info{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return nil, Info{}, fmt.Errorf("blob: get %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, Info{}, fmt.Errorf("blob: get %q: %w", key, err)
	}
	info := Info{
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
	}
	return out.Body, info, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("blob: delete %q: %w", key, err)
	}
	return nil
}

// URL implements Store: a SigV4 presigned GET URL (ttl up to MaxURLTTL).
// The server checks signature and expiry; it does not check that the blob
// exists.
func (s *S3Store) URL(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxURLTTL {
		return "", fmt.Errorf("%w: %v (want 0 < ttl <= %v)", ErrBadTTL, ttl, MaxURLTTL)
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: url %q: %w", key, err)
	}
	return req.URL, nil
}
