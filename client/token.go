package client

import (
	"net/http"
)

// WithToken sends token as the API key of every request
// ("Authorization: Bearer <token>"), for a lockd that asks for keys.
// Keep it secret: use https:// to a lockd on another machine. It has no
// effect on NewLocal. The default is no token.
func WithToken(token string) Option {
	return func(c *Client) { c.token = token }
}

// bearer adds the API key to every request it sends through next.
type bearer struct {
	token string
	next  http.RoundTripper
}

// RoundTrip sends a copy of req with the Authorization header set.
func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// withToken returns hc, or a copy of it whose transport sends token.
func withToken(hc *http.Client, token string) *http.Client {
	if token == "" {
		return hc
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cp := *hc
	cp.Transport = &bearer{token: token, next: next}
	return &cp
}
