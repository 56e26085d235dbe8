package gateway

import (
	"errors"
	"net/http"
)

// AuthError is why a request was not authenticated or not authorized. The
// Err* values below are the sentinels: branch on them with errors.Is. Errors
// returned by Verify wrap exactly one of them, with detail for logs; Code and
// Reason are what a client may be told.
type AuthError struct {
	// Code is a stable machine-readable code, used as "error" in REST bodies.
	Code string
	// Reason is a short human explanation, safe to show to the client.
	Reason string
}

func (e *AuthError) Error() string { return e.Reason }

// Status is the HTTP status for the error: 403 for a missing scope (the
// caller is known but not allowed), 401 for everything else.
func (e *AuthError) Status() int {
	if e == ErrInsufficientScope {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// Sentinel authentication and authorization errors.
var (
	ErrMissingToken = &AuthError{"missing_token",
		"no token: send Authorization: Bearer <JWT> (STOMP CONNECT: or passcode: <JWT>)"}
	ErrMalformedToken = &AuthError{"malformed_token",
		"the token is not a well-formed JWT"}
	ErrBadSignature = &AuthError{"bad_signature",
		"the token's signature does not verify"}
	ErrTokenExpired = &AuthError{"token_expired",
		"the token has expired (exp)"}
	ErrTokenNotYetValid = &AuthError{"token_not_yet_valid",
		"the token is not valid yet (nbf or iat in the future)"}
	ErrMissingExpiry = &AuthError{"missing_exp",
		"the token has no exp claim; tokens must expire"}
	ErrMissingSubject = &AuthError{"missing_sub",
		"the token has no sub claim (the user id)"}
	ErrInvalidSubject = &AuthError{"invalid_sub",
		"the token's sub is not a valid user id (1 to 128 of A-Z a-z 0-9 _ -)"}
	ErrWrongIssuer = &AuthError{"wrong_issuer",
		"the token's issuer (iss) is not the one this server trusts"}
	ErrWrongAudience = &AuthError{"wrong_audience",
		"the token's audience (aud) does not include this server"}
	ErrUnknownKey = &AuthError{"unknown_key",
		"the token's key id (kid) is not in the configured key set"}
	ErrWrongAlg = &AuthError{"wrong_alg",
		"the token's signing algorithm is not accepted for its key"}
	ErrInsufficientScope = &AuthError{"insufficient_scope",
		"the token lacks the scope this call needs"}
)

// asAuthError returns the AuthError in err's chain, or ErrMalformedToken
// when there is none (every refusal must carry a code and a reason).
func asAuthError(err error) *AuthError {
	var ae *AuthError
	if errors.As(err, &ae) {
		return ae
	}
	return ErrMalformedToken
}
