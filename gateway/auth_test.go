package gateway_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcp/rcp/gateway"
)

// TestAuthOverREST sends one token per case to GET /v1/rooms/{id} on a
// server that trusts an HS256 secret and a JWKS file (RSA and P-256 keys).
func TestAuthOverREST(t *testing.T) {
	e := newEnvWith(t, envConfig{verifier: gateway.VerifierConfig{Secret: testSecret, JWKS: standardJWKS(t)}})
	e.must(http.StatusCreated, "POST", "/v1/rooms", e.admin(), group("g", "alice"))
	for _, c := range authCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := e.getWithAuthorization("/v1/rooms/g", c.header)
			if c.want == nil {
				if r.status != http.StatusOK {
					t.Fatalf("refused: %d %s", r.status, r.body)
				}
				return
			}
			if r.status != c.want.Status() || r.errorCode() != c.want.Code || !strings.HasPrefix(r.errorMessage(), c.want.Reason) {
				t.Fatalf("got %d %s\nwant %d %s %q", r.status, r.body, c.want.Status(), c.want.Code, c.want.Reason)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate header")
			}
		})
	}
}

// authCase is one Authorization header and the refusal it must get (nil:
// accepted) from a server trusting testSecret and standardJWKS, as the room
// API sees it (scope rooms:admin required).
type authCase struct {
	name   string
	header string // the whole Authorization header
	want   *gateway.AuthError
}

// authCases is the auth table shared by the REST and STOMP CONNECT tests.
func authCases(t *testing.T) []authCase {
	k := keys()
	admin := func() jwt.MapClaims { return claims("ops", "chat rooms:admin") }
	now := time.Now()

	return []authCase{
		{"valid HS256", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", admin())), nil},
		{"valid RS256 from JWKS", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", admin())), nil},
		{"valid RS256 without kid", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "", admin())), nil},
		{"valid ES256 from JWKS", bearer(sign(t, jwt.SigningMethodES256, k.ec, "ec1", admin())), nil},
		{"scheme in lower case", "bearer " + sign(t, jwt.SigningMethodHS256, testSecret, "", admin()), nil},
		{"expired within leeway", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "",
			with(admin(), "exp", now.Add(-10*time.Second).Unix()))), nil},
		{"expired", bearer(sign(t, jwt.SigningMethodES256, k.ec, "ec1",
			with(admin(), "exp", now.Add(-2*time.Minute).Unix(), "iat", now.Add(-time.Hour).Unix()))), gateway.ErrTokenExpired},
		{"not yet valid", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "",
			with(admin(), "nbf", now.Add(5*time.Minute).Unix()))), gateway.ErrTokenNotYetValid},
		{"issued in the future", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1",
			with(admin(), "iat", now.Add(5*time.Minute).Unix()))), gateway.ErrTokenNotYetValid},
		{"wrong HS256 secret", bearer(sign(t, jwt.SigningMethodHS256,
			[]byte("another-secret-another-secret-another-secret"), "", admin())), gateway.ErrBadSignature},
		{"RS256 by a key not in the set", bearer(sign(t, jwt.SigningMethodRS256, k.rsaOther, "rsa1", admin())), gateway.ErrBadSignature},
		{"payload tampered", bearer(tamper(t, sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims("bob", "")))), gateway.ErrBadSignature},
		{"alg none", bearer(sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", admin())), gateway.ErrWrongAlg},
		{"HS256 with the RSA public key as secret", bearer(sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "rsa1", admin())), gateway.ErrBadSignature},
		{"RS256 header on the EC key", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "ec1", admin())), gateway.ErrWrongAlg},
		{"PS256 on the RSA key", bearer(sign(t, jwt.SigningMethodPS256, k.rsa, "rsa1", admin())), gateway.ErrWrongAlg},
		{"ES384", bearer(sign(t, jwt.SigningMethodES384, k.ec384, "ec1", admin())), gateway.ErrWrongAlg},
		{"HS512", bearer(sign(t, jwt.SigningMethodHS512, testSecret, "", admin())), gateway.ErrWrongAlg},
		{"unknown kid", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "rsa-unknown", admin())), gateway.ErrUnknownKey},
		{"missing sub", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", claims("", "rooms:admin"))), gateway.ErrMissingSubject},
		{"sub not a user id", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", claims("../alice", "rooms:admin"))), gateway.ErrInvalidSubject},
		{"no exp", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", with(admin(), "exp", nil))), gateway.ErrMissingExpiry},
		{"scope claim not a string", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "",
			with(admin(), "scope", []string{"rooms:admin"}))), gateway.ErrMalformedToken},
		{"no scope", bearer(sign(t, jwt.SigningMethodHS256, testSecret, "", claims("ops", ""))), gateway.ErrInsufficientScope},
		{"other scopes", bearer(sign(t, jwt.SigningMethodRS256, k.rsa, "rsa1", claims("ops", "rooms:read rooms:administrator xrooms:admin"))), gateway.ErrInsufficientScope},
		{"garbage", bearer("garbage"), gateway.ErrMalformedToken},
		{"three garbage parts", bearer("a.b.c"), gateway.ErrMalformedToken},
		{"Basic scheme", "Basic b3BzOnNlY3JldA==", gateway.ErrMalformedToken},
		{"empty bearer", "Bearer ", gateway.ErrMissingToken},
		{"no header", "", gateway.ErrMissingToken},
	}
}

// TestHS256WithRSAPublicKeyWithoutSecret: a server that trusts only a JWKS
// refuses every HS256 token, so the RSA public key cannot be used as an HMAC
// secret.
func TestHS256WithRSAPublicKeyWithoutSecret(t *testing.T) {
	v := newVerifier(t, gateway.VerifierConfig{JWKS: standardJWKS(t)})
	forged := sign(t, jwt.SigningMethodHS256, rsaPublicPEM(t), "rsa1", claims("ops", "rooms:admin"))
	if _, err := v.Verify(t.Context(), forged); !errors.Is(err, gateway.ErrWrongAlg) {
		t.Fatalf("Verify(forged HS256) = %v, want ErrWrongAlg", err)
	}
	good := sign(t, jwt.SigningMethodRS256, keys().rsa, "rsa1", claims("ops", "rooms:admin"))
	p, err := v.Verify(t.Context(), good)
	if err != nil || p.UserID != "ops" || !p.HasScope("rooms:admin") {
		t.Fatalf("Verify(RS256) = %+v, %v", p, err)
	}
}

func TestIssuerAndAudience(t *testing.T) {
	v := newVerifier(t, gateway.VerifierConfig{Secret: testSecret, Issuer: "https://idp", Audience: "rcp"})
	for _, c := range []struct {
		name  string
		extra []any
		want  error
	}{
		{"matching", []any{"iss", "https://idp", "aud", []string{"x", "rcp"}}, nil},
		{"no iss", []any{"aud", "rcp"}, gateway.ErrWrongIssuer},
		{"other iss", []any{"iss", "https://evil", "aud", "rcp"}, gateway.ErrWrongIssuer},
		{"no aud", []any{"iss", "https://idp"}, gateway.ErrWrongAudience},
		{"other aud", []any{"iss", "https://idp", "aud", "chat"}, gateway.ErrWrongAudience},
	} {
		tok := sign(t, jwt.SigningMethodHS256, testSecret, "", with(claims("alice", ""), c.extra...))
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, c.want) && (c.want != nil || err != nil) {
			t.Errorf("%s: Verify = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestTokenFromConnectHeaders(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers map[string]string
		token   string
		err     error
	}{
		{"authorization", map[string]string{"Authorization": "Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"lower-case header", map[string]string{"authorization": "Bearer abc"}, "abc", nil},
		{"passcode", map[string]string{"login": "alice", "passcode": "abc.def.ghi"}, "abc.def.ghi", nil},
		{"authorization wins", map[string]string{"Authorization": "Bearer one", "passcode": "two"}, "one", nil},
		{"not bearer", map[string]string{"Authorization": "Basic abc"}, "", gateway.ErrMalformedToken},
		{"empty passcode", map[string]string{"passcode": ""}, "", gateway.ErrMissingToken},
		{"nothing", map[string]string{"login": "alice"}, "", gateway.ErrMissingToken},
	} {
		get := func(k string) (string, bool) { v, ok := c.headers[k]; return v, ok }
		tok, err := gateway.TokenFromConnectHeaders(get)
		if tok != c.token || !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: got %q, %v; want %q, %v", c.name, tok, err, c.token, c.err)
		}
	}
}

func TestMintHS256(t *testing.T) {
	tok, err := gateway.MintHS256(testSecret, "alice", []string{"rooms:admin", "chat"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, gateway.VerifierConfig{Secret: testSecret})
	p, err := v.Verify(t.Context(), tok)
	if err != nil || p.UserID != "alice" || !p.HasScope("rooms:admin") || !p.HasScope("chat") || p.HasScope("rooms") {
		t.Fatalf("Verify(minted) = %+v, %v", p, err)
	}
	for name, mint := range map[string]func() (string, error){
		"short secret": func() (string, error) { return gateway.MintHS256([]byte("short"), "alice", nil, time.Minute) },
		"bad sub":      func() (string, error) { return gateway.MintHS256(testSecret, "al ice", nil, time.Minute) },
		"no ttl":       func() (string, error) { return gateway.MintHS256(testSecret, "alice", nil, 0) },
		"spaced scope": func() (string, error) { return gateway.MintHS256(testSecret, "alice", []string{"a b"}, time.Minute) },
	} {
		if tok, err := mint(); err == nil {
			t.Errorf("%s: minted %q, want an error", name, tok)
		}
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]gateway.VerifierConfig{
		"nothing to verify with": {},
		"short secret":           {Secret: []byte("0123456789")},
		"missing JWKS file":      {JWKS: "/nonexistent/jwks.json"},
		"JWKS file not JSON":     {JWKS: writeFile(t, "jwks.json", "not json")},
		"JWKS URL unreachable":   {JWKS: "http://127.0.0.1:1/jwks.json"},
	} {
		if v, err := gateway.NewVerifier(t.Context(), cfg); err == nil {
			v.Close()
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
}

func newVerifier(t *testing.T, cfg gateway.VerifierConfig) *gateway.Verifier {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	v, err := gateway.NewVerifier(t.Context(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	return v
}

func bearer(token string) string { return "Bearer " + token }

// tamper replaces the payload of a signed token with one naming "admin".
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	forged := strings.Split(sign(t, jwt.SigningMethodHS256, testSecret, "", claims("admin", "rooms:admin")), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

// getWithAuthorization GETs path with the given Authorization header.
func (e *env) getWithAuthorization(path, authorization string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), "GET", e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return e.send(req)
}
