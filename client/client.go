// Package client is lockd's Go SDK. One Client type serves two ways: New
// calls a lockd over HTTP, NewLocal links an engine into the process (a
// memlock or redlock engine), and nothing else in the caller changes.
// Keep-alive, Lease.Done, WithLock and retries behave the same on both.
//
// It returns the same error values as an in-process engine:
// errors.Is(err, lockd.ErrNotObtained), errors.As with
// *lockd.NotObtainedError or *lockd.ArgumentError, and the rest hold
// whether the engine is linked in or behind lockd. Transport failures are
// wrapped with their cause, not mapped to lockd's sentinels.
//
// Client.Engine adapts a Client to lockd.Engine, so code written against
// the interface runs unchanged over HTTP.
package client

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/election"
)

// DefaultTimeout bounds each request when WithTimeout is not given. An
// acquire that waits gets its wait on top.
const DefaultTimeout = 10 * time.Second

// DefaultRetry is how long a call keeps retrying transient failures when
// WithRetry is not given.
const DefaultRetry = 10 * time.Second

// Client acquires locks from one lockd endpoint (or a load balancer in
// front of several), or from an engine linked into the process. It is safe
// for concurrent use.
//
// Every Acquire is its own holder: it sends a fresh lease value of its own,
// so goroutines that share a Client exclude each other like any two
// processes. The owner (WithOwner, Owner) is only a label that Inspect and
// conflicts show; sharing it is fine.
type Client struct {
	eng      lockd.Engine  // the HTTP engine (New) or the linked one (NewLocal)
	remote   *remote       // nil for NewLocal
	journal  lockd.Journal // History's source for NewLocal; nil for none
	hub      *election.Hub // elections of NewLocal: campaigns, resignations, observers
	owner    string
	retryFor time.Duration // how long calls retry transient failures
	token    string        // the API key sent with every request; "" for none

	// Settings of the HTTP transport, which New reads.
	hc        *http.Client
	timeout   time.Duration
	idleConns int
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for requests (New only). Its
// Timeout, if any, applies on top of the client's own per-request
// timeouts, so leave it zero when acquires may wait. The default is a
// client with a transport that keeps WithIdleConns idle connections.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// DefaultIdleConns is how many idle connections to the server the default
// transport keeps when WithIdleConns is not given.
const DefaultIdleConns = 100

// WithIdleConns sets how many idle connections to the server the default
// transport keeps for reuse (New only; ignored with WithHTTPClient). Set it
// to at least the number of requests in flight at once: each one beyond it
// opens a connection of its own and leaves it in TIME_WAIT. The default is
// DefaultIdleConns.
func WithIdleConns(n int) Option {
	return func(c *Client) { c.idleConns = n }
}

// WithTimeout sets how long one request may take (New only), not counting
// an acquire's wait, which is added to it. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithOwner sets the owner Acquire uses when no Owner option is given. The
// default is the hostname, the process id and 8 random hex digits, joined
// by "-".
func WithOwner(owner string) Option {
	return func(c *Client) { c.owner = owner }
}

// WithRetry sets how long a call keeps retrying a transient failure: a
// request that did not reach the server or got no answer, an HTTP 502, 503
// or 504, or lockd.ErrQuorumUnavailable, ErrStoreUnavailable or
// ErrUnavailable. Retries wait a jittered, doubling backoff (50ms up to
// 1s) and never pass the caller's context deadline; an acquire that waits
// gets its wait on top. Retries cannot do harm: a retried acquire sends
// the same lease, so it gets the same grant back if the first attempt
// succeeded; a retried extend or release names the lease, so it never
// touches a newer holder. 0 turns retries off. The default is
// DefaultRetry.
func WithRetry(d time.Duration) Option {
	return func(c *Client) { c.retryFor = d }
}

// WithJournal gives a NewLocal client the journal that History reads (a
// mongostore.Store, say). Without it, NewLocal's History returns
// lockd.ErrNotConfigured. New ignores it: the server has its own.
func WithJournal(j lockd.Journal) Option {
	return func(c *Client) { c.journal = j }
}

// New returns a client for the lockd at baseURL ("http://127.0.0.1:3000").
// It returns an error when baseURL is not an absolute http or https URL, a
// timeout is not positive, a retry is negative or idle connections are
// fewer than 1.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http://host[:port] or https://host[:port]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: want no query or fragment", baseURL)
	}
	c, err := build(opts)
	if err != nil {
		return nil, err
	}
	if c.idleConns < 1 {
		return nil, fmt.Errorf("client: idle connections %d: want >= 1", c.idleConns)
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient(u, c.idleConns)
	}
	c.journal = nil
	c.remote = &remote{base: strings.TrimRight(u.String(), "/"), hc: c.hc, timeout: c.timeout}
	if c.token != "" {
		c.remote.auth = []string{"Bearer " + c.token}
	}
	c.eng = c.remote
	return c, nil
}

// NewLocal returns a client that calls e in-process: the same API as New,
// without a server. Closing the client does not close e. WithHTTPClient
// and WithTimeout do not apply. It returns an error when e is nil or a
// retry is negative.
func NewLocal(e lockd.Engine, opts ...Option) (*Client, error) {
	if e == nil {
		return nil, errors.New("client: NewLocal: nil engine")
	}
	c, err := build(opts)
	if err != nil {
		return nil, err
	}
	c.eng = e
	c.hub = election.NewHub(e)
	return c, nil
}

// build applies opts over the defaults and checks them.
func build(opts []Option) (*Client, error) {
	c := &Client{timeout: DefaultTimeout, retryFor: DefaultRetry, idleConns: DefaultIdleConns, owner: defaultOwner()}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("client: timeout %v: want > 0", c.timeout)
	}
	if c.retryFor < 0 {
		return nil, fmt.Errorf("client: retry %v: want >= 0", c.retryFor)
	}
	return c, nil
}

// Engine returns the client as a lockd.Engine, so code written against
// the interface (the conformance suite, say) runs over HTTP; for NewLocal
// it is the linked engine itself. The adapter makes one request per call,
// without retries, and returns the errors the lockd.Engine documentation
// lists, plus wrapped transport errors. Unlike Client.Acquire, its Acquire
// uses opts.Owner and opts.Lease as given, with no defaults (no lease: the
// server makes one, and the acquire is not idempotent).
//
// Over HTTP, an Acquire with opts.ReleaseByOwner goes through the
// prototype's POST /get-lock, the one route that grants such locks: it
// cannot wait or carry a lease or metadata (*lockd.ArgumentError, field
// "release_by_owner", when asked to), its TTL is sent in whole
// milliseconds, and the lease it returns has no AcquiredAt. ReleaseByOwner
// goes through POST /release-lock. Health reports the server as one failed
// node when it cannot be reached. Close closes idle connections.
func (c *Client) Engine() lockd.Engine { return c.eng }

// Close closes idle connections to the server. It does not close an
// engine given to NewLocal, and it does not release any lease.
func (c *Client) Close() error {
	if c.remote != nil {
		c.remote.hc.CloseIdleConnections()
	}
	return nil
}

// defaultHTTPClient keeps up to idle idle connections to the server at
// base: net/http's default of 2 would make every concurrent holder beyond
// the second open (and leave in TIME_WAIT) a connection per request. Over
// plain http without a proxy it sends through an h1Transport, which
// spends less CPU a request than net/http's Transport.
func defaultHTTPClient(base *url.URL, idle int) *http.Client {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	t := dt.Clone()
	t.MaxIdleConns = idle
	t.MaxIdleConnsPerHost = idle
	if h1, ok := newH1Transport(base, t, idle); ok {
		return &http.Client{Transport: h1}
	}
	return &http.Client{Transport: t}
}

func defaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lockd-client"
	}
	if len(host) > 64 {
		host = host[:64]
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}
