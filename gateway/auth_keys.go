package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	defaultJWKSRefresh = 15 * time.Minute
	// unknownKIDRefresh is the most often an unknown kid re-reads the set.
	unknownKIDRefresh = 10 * time.Second
	// jwksFetchTimeout bounds one read of the set, including the wait for
	// the unknown-kid rate limiter (a flood of bogus kids fails fast).
	jwksFetchTimeout = 5 * time.Second
	// minRSABits is the smallest RSA modulus accepted for RS256.
	minRSABits = 2048
)

// keySet is the JWKS (file or URL) behind RS256 and ES256, kept fresh by
// keyfunc: re-read every refresh interval and, rate limited, whenever a
// token names a kid the set does not have (key rotation).
type keySet struct {
	store jwkset.Storage
	stop  context.CancelFunc // ends the refresh goroutine
}

// newKeySet loads the set once (an error if that fails) and keeps
// refreshing it until ctx ends. A file is read through an http.Client whose
// transport serves the file's folder, so files and URLs share one refresh
// path: an operator rotating keys in the file is picked up like a URL's.
func newKeySet(ctx context.Context, source string, refresh time.Duration, logger *slog.Logger) (*keySet, error) {
	if refresh <= 0 {
		refresh = defaultJWKSRefresh
	}
	u, client, err := jwksLocation(source)
	if err != nil {
		return nil, err
	}
	failOnFirst := false
	ctx, cancel := context.WithCancel(ctx)
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{u}, keyfunc.Override{
		Client:                    client,
		HTTPTimeout:               jwksFetchTimeout,
		NoErrorReturnFirstHTTPReq: &failOnFirst,
		RateLimitWaitMax:          jwksFetchTimeout,
		RefreshInterval:           refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(unknownKIDRefresh), 1),
		RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				logger.ErrorContext(ctx, "refresh JWKS", "jwks", source, "error", err)
			}
		},
	})
	if err != nil {
		cancel() // stops the refresh goroutine keyfunc already started
		return nil, fmt.Errorf("gateway: load JWKS %s: %w", source, err)
	}
	return &keySet{store: kf.Storage(), stop: cancel}, nil
}

// jwksLocation turns a file path or URL into a URL and the client to read it.
func jwksLocation(source string) (string, *http.Client, error) {
	if strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://") {
		if _, err := url.ParseRequestURI(source); err != nil {
			return "", nil, fmt.Errorf("gateway: JWKS URL %q: %w", source, err)
		}
		return source, &http.Client{Timeout: jwksFetchTimeout}, nil
	}
	path, err := filepath.Abs(strings.TrimPrefix(source, "file://"))
	if err != nil {
		return "", nil, fmt.Errorf("gateway: JWKS file %q: %w", source, err)
	}
	dir, name := filepath.Split(path)
	client := &http.Client{Transport: http.NewFileTransport(http.Dir(dir))}
	return "file:///" + url.PathEscape(name), client, nil
}

// key returns the verification key(s) for t: by kid when the token names
// one, else every key of the set that fits the token's algorithm.
func (s *keySet) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, hasKID := t.Header["kid"].(string)
	if !hasKID {
		all, err := s.store.KeyReadAll(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: read key set: %w", ErrUnknownKey, err)
		}
		var set jwt.VerificationKeySet
		for _, k := range all {
			if pub, err := publicKeyFor(k, alg); err == nil {
				set.Keys = append(set.Keys, pub)
			}
		}
		if len(set.Keys) == 0 {
			return nil, fmt.Errorf("%w: token has no kid and no %s key is in the set", ErrUnknownKey, alg)
		}
		return set, nil
	}
	k, err := s.store.KeyRead(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("%w: kid %.64q: %w", ErrUnknownKey, kid, err)
	}
	return publicKeyFor(k, alg)
}

// publicKeyFor returns k's public key if k may verify alg: RS256 needs an
// RSA key of at least 2048 bits, ES256 a P-256 key, and a key that states
// its own alg or use must agree.
func publicKeyFor(k jwkset.JWK, alg string) (crypto.PublicKey, error) {
	m := k.Marshal()
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, fmt.Errorf("%w: key %q is for %s, token says %s", ErrWrongAlg, m.KID, m.ALG, alg)
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("%w: key %q is for use %q, not signatures", ErrWrongAlg, m.KID, m.USE)
	}
	pub := k.Key()
	if priv, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = priv.Public()
	}
	switch key := pub.(type) {
	case *rsa.PublicKey:
		if alg == jwt.SigningMethodRS256.Alg() && key.N.BitLen() >= minRSABits {
			return key, nil
		}
	case *ecdsa.PublicKey:
		if alg == jwt.SigningMethodES256.Alg() && key.Curve == elliptic.P256() {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: key %q (%s) cannot verify %s", ErrWrongAlg, m.KID, m.KTY, alg)
}
