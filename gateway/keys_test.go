package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// testKeys are generated once per test binary (RSA generation is slow).
type testKeys struct {
	rsa, rsaOther *rsa.PrivateKey
	ec            *ecdsa.PrivateKey
	ec384         *ecdsa.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	gen := func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	ec384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{rsa: gen(), rsaOther: gen(), ec: ec, ec384: ec384}
})

// jwk is one public key of a test JWKS.
type jwk struct {
	kid string
	alg jwkset.ALG // "" leaves the JWK without alg
	pub any
}

// jwksJSON encodes public keys as a JSON Web Key Set.
func jwksJSON(t *testing.T, ks ...jwk) []byte {
	t.Helper()
	var set jwkset.JWKSMarshal
	for _, k := range ks {
		j, err := jwkset.NewJWKFromKey(k.pub, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig},
		})
		if err != nil {
			t.Fatalf("JWK %s: %v", k.kid, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// writeJWKS writes a JWKS file and returns its path.
func writeJWKS(t *testing.T, ks ...jwk) string {
	t.Helper()
	return writeFile(t, "jwks.json", string(jwksJSON(t, ks...)))
}

// writeFile writes content to a new file in a temporary folder.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// standardJWKS is the set of the auth tests: an RSA and a P-256 key.
func standardJWKS(t *testing.T) string {
	k := keys()
	return writeJWKS(t,
		jwk{kid: "rsa1", alg: jwkset.AlgRS256, pub: &k.rsa.PublicKey},
		jwk{kid: "ec1", alg: jwkset.AlgES256, pub: &k.ec.PublicKey},
	)
}

// claims returns valid claims for sub with scope, for an hour.
func claims(sub, scope string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if sub != "" {
		c["sub"] = sub
	}
	if scope != "" {
		c["scope"] = scope
	}
	return c
}

// with returns c with extra claims set (nil value: removed).
func with(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

// sign signs claims with method and key; kid is set when not empty.
func sign(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// rsaPublicPEM is what an attacker would use as an HS256 "secret".
func rsaPublicPEM(t *testing.T) []byte {
	der, err := x509.MarshalPKIXPublicKey(&keys().rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
