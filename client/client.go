// Package client is the Go SDK for lockd's HTTP API. It returns the same
// error values as an in-process engine: errors.Is(err, lockd.ErrNotObtained),
// errors.As with *lockd.NotObtainedError or *lockd.ArgumentError, and the
// rest hold whether the engine is linked in or behind lockd. Transport
// failures are wrapped with their cause, not mapped to lockd's sentinels.
//
// Client.Engine adapts a Client to lockd.Engine, so code written against
// the interface runs unchanged over HTTP.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
)

// DefaultTimeout bounds each request when WithTimeout is not given. An
// acquire that waits gets its wait on top.
const DefaultTimeout = 10 * time.Second

// maxResponseBytes bounds how much of a response the client reads.
const maxResponseBytes = 1 << 20

// Client talks to one lockd endpoint (or a load balancer in front of
// several). It is safe for concurrent use.
//
// Every Acquire is its own holder: it sends a fresh lease value of its own,
// so goroutines that share a Client exclude each other like any two
// processes. The owner (WithOwner, Owner) is only a label that Inspect and
// conflicts show; sharing it is fine.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	owner   string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client used for requests. Its Timeout, if
// any, applies on top of the client's own per-request timeouts, so leave it
// zero when acquires may wait. The default is a client with a transport that
// keeps enough idle connections for many concurrent lock holders.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithTimeout sets how long one request may take, not counting an
// acquire's wait, which is added to it. The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout = d }
}

// WithOwner sets the owner Acquire uses when no Owner option is given. The
// default is the hostname, the process id and 8 random hex digits, joined
// by "-".
func WithOwner(owner string) Option {
	return func(c *Client) { c.owner = owner }
}

// New returns a client for the lockd at baseURL ("http://127.0.0.1:3000").
// It returns an error when baseURL is not an absolute http or https URL or
// a timeout is not positive.
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
	c := &Client{
		base:    strings.TrimRight(u.String(), "/"),
		timeout: DefaultTimeout,
		owner:   defaultOwner(),
	}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("client: timeout %v: want > 0", c.timeout)
	}
	if c.hc == nil {
		c.hc = defaultHTTPClient()
	}
	return c, nil
}

// defaultHTTPClient keeps up to 100 idle connections to the server:
// net/http's default of 2 would make every concurrent holder beyond the
// second open (and leave in TIME_WAIT) a connection per request.
func defaultHTTPClient() *http.Client {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return &http.Client{}
	}
	t := dt.Clone()
	t.MaxIdleConns = 100
	t.MaxIdleConnsPerHost = 100
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

// call is one request to the API.
type call struct {
	method string
	path   string
	name   string        // the lock, for errors that name it
	in     any           // request body, marshalled to JSON; nil for none
	out    any           // where to decode a 2xx body; nil to discard it
	extra  time.Duration // added to the timeout (an acquire's wait)
	accept int           // a non-2xx status whose body is also decoded into out
}

// do sends cl and decodes the answer into cl.out. Non-2xx answers become
// lockd errors (see apiError), except cl.accept, which is decoded and then
// reported as an error; an unreadable answer wraps lockd.ErrInternal;
// failures to talk to the server are wrapped with their cause.
func (c *Client) do(ctx context.Context, cl call) error {
	status, b, err := c.send(ctx, cl)
	if err != nil {
		return err
	}
	ok := status >= 200 && status <= 299
	if !ok && status != cl.accept {
		return apiError(status, b, cl.name)
	}
	if cl.out != nil {
		if err := json.Unmarshal(b, cl.out); err != nil {
			return fmt.Errorf("client: %s %s: decoding response: %w: %w", cl.method, cl.path, lockd.ErrInternal, err)
		}
	}
	if !ok {
		return fmt.Errorf("client: %s %s: HTTP %d", cl.method, cl.path, status)
	}
	return nil
}

// send makes the request cl describes, within the client's timeout plus
// cl.extra, and returns the answer's status and body, whatever the status.
// Failures to talk to the server are wrapped with their cause; a body over
// maxResponseBytes wraps lockd.ErrInternal.
func (c *Client) send(ctx context.Context, cl call) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+cl.extra)
	defer cancel()
	var body io.Reader
	if cl.in != nil {
		b, err := json.Marshal(cl.in)
		if err != nil {
			return 0, nil, fmt.Errorf("client: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %s %s: %w", cl.method, cl.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("client: %s %s: %w", cl.method, cl.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("client: %s %s: reading response: %w", cl.method, cl.path, err)
	}
	if len(b) > maxResponseBytes {
		return 0, nil, fmt.Errorf("client: %s %s: response larger than %d bytes: %w", cl.method, cl.path, maxResponseBytes, lockd.ErrInternal)
	}
	return resp.StatusCode, b, nil
}

// pathFor builds the path of a lock route. name must be valid: lockd names
// need no escaping, and escaping keeps the path sane when they are not.
func pathFor(name, action string) string {
	p := "/v1/locks/" + url.PathEscape(name)
	if action != "" {
		p += "/" + action
	}
	return p
}
