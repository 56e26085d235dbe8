package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintHS256 signs a token for sub with the given scopes, valid from now for
// ttl (rcpd token --sub alice --scope rooms:admin). It refuses what Verify
// would refuse: a short secret, an invalid user id, a scope with spaces.
func MintHS256(secret []byte, sub string, scopes []string, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretLen {
		return "", fmt.Errorf("gateway: mint: secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	if !ValidUserID(sub) {
		return "", fmt.Errorf("gateway: mint: %w: %.140q", ErrInvalidSubject, sub)
	}
	if ttl <= 0 {
		return "", errors.New("gateway: mint: ttl must be positive")
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return "", fmt.Errorf("gateway: mint: scope %q: scopes are non-empty and without spaces or quotes", s)
		}
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Scope: strings.Join(scopes, " "),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("gateway: mint: sign: %w", err)
	}
	return token, nil
}
