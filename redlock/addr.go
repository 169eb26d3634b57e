package redlock

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// endpoint is one node's address as given: host:port, or a redis:// or
// rediss:// URL that adds a user, a password and TLS.
type endpoint struct {
	addr     string // host:port: the node's name in logs, metrics and errors
	user     string
	password string
	tls      *tls.Config // nil: plain TCP
}

// parseEndpoint reads host:port, redis://[user[:password]@]host:port or
// rediss://... (TLS, verified against the system's roots with the host's
// name). A URL may carry nothing else: no database (lockd uses 0), no
// query.
func parseEndpoint(a string) (endpoint, error) {
	if !strings.Contains(a, "://") {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return endpoint{}, fmt.Errorf("%q is not host:port", a)
		}
		return endpoint{addr: a}, nil
	}
	u, err := url.Parse(a)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is not a Redis URL", redact(a))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return endpoint{}, fmt.Errorf("%q: want host:port, redis:// or rediss://", redact(a))
	}
	if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
		return endpoint{}, fmt.Errorf("%q: want a host:port", redact(a))
	}
	if (u.Path != "" && u.Path != "/" && u.Path != "/0") || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("%q: want no database, query or fragment (lockd uses database 0)", redact(a))
	}
	e := endpoint{addr: u.Host}
	if u.User != nil {
		e.user = u.User.Username()
		e.password, _ = u.User.Password()
	}
	if u.Scheme == "rediss" {
		e.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	}
	return e, nil
}

// redact hides a URL's password.
func redact(a string) string {
	u, err := url.Parse(a)
	if err != nil || u.User == nil {
		if err != nil {
			return "(unparsable)"
		}
		return a
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
