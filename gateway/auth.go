package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ScopeRoomsAdmin is the scope the room API requires.
const ScopeRoomsAdmin = "rooms:admin"

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MinSecretLen is the shortest HS256 secret accepted (RFC 7518 §3.2: at
// least the hash size, 256 bits).
const MinSecretLen = 32

// Principal is an authenticated caller.
type Principal struct {
	UserID string
	Scopes []string
}

// HasScope reports whether the principal was granted scope.
func (p Principal) HasScope(scope string) bool { return slices.Contains(p.Scopes, scope) }

// VerifierConfig configures a Verifier. At least one of Secret, JWKS and
// InsecureDevAuth must be set.
type VerifierConfig struct {
	// Secret verifies HS256 tokens (RCP_JWT_SECRET), at least MinSecretLen
	// bytes. Empty: HS256 tokens are refused.
	Secret []byte
	// JWKS is a file path or an http(s) URL of a JSON Web Key Set
	// (RCP_JWT_JWKS) holding the RSA (RS256) and P-256 (ES256) public keys.
	// Empty: RS256 and ES256 tokens are refused.
	JWKS string
	// JWKSRefresh is how often the key set is re-read (default 15 min). A
	// token with an unknown kid also triggers a re-read, at most every 10 s.
	JWKSRefresh time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 30 s;
	// negative means none).
	Leeway time.Duration
	// Issuer and Audience, when set, must match the iss and aud claims.
	Issuer   string
	Audience string
	// InsecureDevAuth accepts a bare user id in place of a token (and the
	// STOMP login header without any token), with DevScopes. For local
	// development only; real JWTs are still verified.
	InsecureDevAuth bool
	// DevScopes are granted to dev principals (default: rooms:admin).
	DevScopes []string
	// Logger receives key set refresh failures and the insecure-mode warning
	// (default slog.Default()).
	Logger *slog.Logger
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	secret    []byte
	issuer    string
	keys      *keySet // nil without JWKS
	parser    *jwt.Parser
	insecure  bool
	devScopes []string
	logger    *slog.Logger
}

// NewVerifier builds a Verifier. With a JWKS it loads the key set once
// (failing if it cannot) and refreshes it in the background until ctx ends
// or Close is called.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if len(cfg.Secret) == 0 && cfg.JWKS == "" && !cfg.InsecureDevAuth {
		return nil, errors.New("gateway: no way to verify tokens: set a JWT secret, a JWKS, or insecure dev auth")
	}
	if len(cfg.Secret) > 0 && len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("gateway: JWT secret is %d bytes, want at least %d (e.g. openssl rand -base64 32)",
			len(cfg.Secret), MinSecretLen)
	}
	v := &Verifier{
		secret:    slices.Clone(cfg.Secret),
		issuer:    cfg.Issuer,
		parser:    newParser(cfg),
		insecure:  cfg.InsecureDevAuth,
		devScopes: cfg.DevScopes,
		logger:    logger,
	}
	if v.devScopes == nil {
		v.devScopes = []string{ScopeRoomsAdmin}
	}
	if cfg.JWKS != "" {
		ks, err := newKeySet(ctx, cfg.JWKS, cfg.JWKSRefresh, logger)
		if err != nil {
			return nil, err
		}
		v.keys = ks
	}
	if v.insecure {
		logger.Warn("INSECURE DEV AUTH IS ON: any client can log in as any user by sending the user id " +
			"as its token or STOMP login, with scopes " + strings.Join(v.devScopes, " ") +
			". Never enable this outside local development.")
	}
	return v, nil
}

// Close stops the key set refresh. Verify keeps working with the keys last
// read.
func (v *Verifier) Close() {
	if v.keys != nil {
		v.keys.stop()
	}
}

func newParser(cfg VerifierConfig) *jwt.Parser {
	leeway := cfg.Leeway
	switch {
	case leeway == 0:
		leeway = DefaultLeeway
	case leeway < 0:
		leeway = 0
	}
	opts := []jwt.ParserOption{
		jwt.WithLeeway(leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return jwt.NewParser(opts...)
}

// claims are the JWT claims RCP reads: the registered ones and scope, a
// space-separated list (RFC 8693 §4.2).
type claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope,omitempty"`
}

// Verify checks a token and returns who it authenticates. Errors wrap one of
// the AuthError sentinels.
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, ErrMissingToken
	}
	if v.insecure && !looksLikeJWT(token) {
		return v.devPrincipal(token)
	}
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFunc(ctx)); err != nil {
		return Principal{}, v.classify(err, &c)
	}
	switch {
	case c.ExpiresAt == nil:
		return Principal{}, ErrMissingExpiry
	case c.Subject == "":
		return Principal{}, ErrMissingSubject
	case !ValidUserID(c.Subject):
		return Principal{}, fmt.Errorf("%w: %.140q", ErrInvalidSubject, c.Subject)
	}
	return Principal{UserID: c.Subject, Scopes: strings.Fields(c.Scope)}, nil
}

// VerifyConnect authenticates a STOMP CONNECT frame from its headers (see
// TokenFromConnectHeaders). In insecure dev mode a login header alone is
// accepted as the user id.
func (v *Verifier) VerifyConnect(ctx context.Context, get func(string) (string, bool)) (Principal, error) {
	token, err := TokenFromConnectHeaders(get)
	if errors.Is(err, ErrMissingToken) && v.insecure {
		if login, ok := get("login"); ok && login != "" {
			return v.devPrincipal(login)
		}
	}
	if err != nil {
		return Principal{}, err
	}
	return v.Verify(ctx, token)
}

func (v *Verifier) devPrincipal(userID string) (Principal, error) {
	if !ValidUserID(userID) {
		return Principal{}, fmt.Errorf("%w (insecure dev auth): %.140q", ErrInvalidSubject, userID)
	}
	return Principal{UserID: userID, Scopes: slices.Clone(v.devScopes)}, nil
}

// keyFunc pins the algorithm to the key: HS256 only ever uses the secret,
// RS256 and ES256 only keys of their own type from the key set, and nothing
// else (none, HS384, PS256 …) is accepted. So a token "signed" with HS256
// using the RSA public key as secret is checked against the real secret and
// fails.
func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		switch alg {
		case jwt.SigningMethodHS256.Alg():
			if len(v.secret) == 0 {
				return nil, fmt.Errorf("%w: HS256 tokens are not accepted (no secret configured)", ErrWrongAlg)
			}
			return v.secret, nil
		case jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg():
			if v.keys == nil {
				return nil, fmt.Errorf("%w: %s tokens are not accepted (no JWKS configured)", ErrWrongAlg, alg)
			}
			return v.keys.key(ctx, t)
		default:
			return nil, fmt.Errorf("%w: %.20q is not accepted", ErrWrongAlg, alg)
		}
	}
}

// classify maps a jwt parse error to our sentinels, keeping the jwt error
// for logs. c holds whatever claims could be decoded.
func (v *Verifier) classify(err error, c *claims) error {
	var ae *AuthError
	if errors.As(err, &ae) {
		return err // from keyFunc, already classified
	}
	sentinel := ErrMalformedToken
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		sentinel = ErrMalformedToken
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		sentinel = ErrWrongAlg // an algorithm jwt does not even know
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		sentinel = ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		sentinel = ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		sentinel = ErrTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && v.issuer != "" && c.Issuer == "":
		sentinel = ErrWrongIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		sentinel = ErrWrongAudience // only iss and aud are required, by configuration
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// looksLikeJWT tells a compact JWS (three dot-separated parts) from a bare
// user id, which cannot contain dots.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }
