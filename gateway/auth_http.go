package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// TokenFromConnectHeaders extracts the token from STOMP CONNECT headers:
// "Authorization: Bearer <JWT>" or, for clients that cannot set arbitrary
// headers, "passcode: <JWT>". Authorization wins when both are present.
func TokenFromConnectHeaders(get func(name string) (string, bool)) (string, error) {
	if v, ok := get("Authorization"); ok {
		return bearer(v)
	}
	if v, ok := get("authorization"); ok {
		return bearer(v)
	}
	if v, ok := get("passcode"); ok && v != "" {
		return v, nil
	}
	return "", ErrMissingToken
}

// BearerToken extracts the token from an HTTP request's Authorization header.
func BearerToken(r *http.Request) (string, error) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", ErrMissingToken
	}
	return bearer(v)
}

// bearer parses "Bearer <token>" (scheme case-insensitive, RFC 6750 §2.1).
func bearer(header string) (string, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: Authorization is not \"Bearer <token>\"", ErrMalformedToken)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrMissingToken
	}
	return token, nil
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal Authenticate stored in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authenticate is HTTP middleware: it verifies the request's bearer token
// and passes the principal to next in the request context, or answers 401
// with {"error": code, "message": reason} and a WWW-Authenticate header.
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, err := BearerToken(r)
		var p Principal
		if err == nil {
			p, err = v.Verify(r.Context(), token)
		}
		if err != nil {
			v.logger.DebugContext(r.Context(), "request not authenticated",
				"method", r.Method, "path", r.URL.Path, "error", err)
			writeAuthError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// RequireScope is HTTP middleware for handlers behind Authenticate: it
// answers 403 insufficient_scope unless the principal has scope.
func RequireScope(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			writeAuthError(w, ErrMissingToken)
			return
		}
		if !p.HasScope(scope) {
			writeAuthError(w, fmt.Errorf("%w: %s", ErrInsufficientScope, scope))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeAuthError answers with the AuthError in err's chain. The message is
// the sentinel's reason; for a missing scope it names the scope.
func writeAuthError(w http.ResponseWriter, err error) {
	ae := asAuthError(err)
	msg := ae.Reason
	switch {
	case errors.Is(err, ErrInsufficientScope):
		msg = err.Error()
		w.Header().Set("WWW-Authenticate", `Bearer realm="rcp", error="insufficient_scope"`)
	case errors.Is(err, ErrMissingToken):
		w.Header().Set("WWW-Authenticate", `Bearer realm="rcp"`)
	default:
		w.Header().Set("WWW-Authenticate",
			fmt.Sprintf(`Bearer realm="rcp", error="invalid_token", error_description=%q`, ae.Reason))
	}
	writeError(w, ae.Status(), ae.Code, msg)
}
