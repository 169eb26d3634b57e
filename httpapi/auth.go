package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/lockd/lockd"
)

// Role is what an API key may do. Each role may do what the ones below it
// may.
type Role int

// Roles of API keys.
const (
	// RoleRead may inspect locks, semaphores and elections, read history,
	// observe, and scrape /metrics.
	RoleRead Role = iota + 1
	// RoleWrite may also acquire, extend and release, campaign and resign.
	RoleWrite
	// RoleAdmin may also use the admin routes.
	RoleAdmin
)

// ParseRole reads "read", "write" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "read":
		return RoleRead, nil
	case "write":
		return RoleWrite, nil
	case "admin":
		return RoleAdmin, nil
	}
	return 0, fmt.Errorf("role %q: want read, write or admin", s)
}

// String returns the role's name.
func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Key is an API key as the server knows it: never its token, only the
// token's SHA-256.
type Key struct {
	// Name names the key in logs; it is not secret.
	Name string
	// Hash is the SHA-256 of the token that clients send.
	Hash [sha256.Size]byte
	// Role is what the key may do.
	Role Role
	// Prefixes are the names the key may act on: a name must start with
	// one of them. None means every name.
	Prefixes []string
}

// HashToken returns the SHA-256 of an API token, in hex, as a config file
// stores it.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// ParseKeyHash reads a token's SHA-256 in hex.
func ParseKeyHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return h, fmt.Errorf("sha256 %q: want 64 hex digits", s)
	}
	copy(h[:], b)
	return h, nil
}

// WithKeys turns authentication on: every route but /healthz, /readyz and
// the prototype's GET / needs "Authorization: Bearer <token>" with the
// token of one of keys, whose role and prefixes allow what it asks. A
// request without a known token is answered 401 unauthenticated, one its
// key does not allow 403 permission_denied. No keys (the default) means no
// authentication.
func WithKeys(keys []Key) Option {
	return func(s *Server) { s.keys = keys }
}

type keyCtx struct{}

// authenticate finds the request's key. It compares the token's hash with
// every key's in constant time, so the time taken says nothing of which
// key, or how much of one, matched.
func (s *Server) authenticate(r *http.Request) (*Key, error) {
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return nil, fmt.Errorf("%w: send an API key as Authorization: Bearer <token>", lockd.ErrUnauthenticated)
	}
	h := sha256.Sum256([]byte(token))
	var found *Key
	for i := range s.keys {
		if subtle.ConstantTimeCompare(h[:], s.keys[i].Hash[:]) == 1 {
			found = &s.keys[i]
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: unknown API key", lockd.ErrUnauthenticated)
	}
	return found, nil
}

// guard wraps a route that needs role: with authentication on, it checks
// the request's key and role, and its {name} against the key's prefixes;
// handlers check the names they read from the body with checkNames.
func (s *Server) guard(role Role, h http.Handler, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	if len(s.keys) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := s.authenticate(r)
		if err == nil && key.Role < role {
			err = fmt.Errorf("%w: key %q is %s, this needs %s", lockd.ErrPermissionDenied, key.Name, key.Role, role)
		}
		if err == nil {
			if name := r.PathValue("name"); name != "" {
				err = allowName(key, name)
			}
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, key)))
	})
}

// allowNames checks names from a request's body against the prefixes of
// its key; without authentication every name is allowed.
func allowNames(ctx context.Context, names ...string) error {
	key, _ := ctx.Value(keyCtx{}).(*Key)
	if key == nil {
		return nil
	}
	for _, n := range names {
		if err := allowName(key, n); err != nil {
			return err
		}
	}
	return nil
}

func allowName(key *Key, name string) error {
	if len(key.Prefixes) == 0 {
		return nil
	}
	for _, p := range key.Prefixes {
		if strings.HasPrefix(name, p) {
			return nil
		}
	}
	return fmt.Errorf("%w: key %q may act only on names starting with %s", lockd.ErrPermissionDenied, key.Name, strings.Join(key.Prefixes, ", "))
}
