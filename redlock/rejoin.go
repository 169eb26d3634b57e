package redlock

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/rawconn"
)

// errRejoining is a node that restarted (its run_id changed, or its uptime
// went back): without persistence it forgot the locks it held, so its vote
// could grant a held lock again. It gets none until every lease it could
// have held has run out: the rejoin delay after the restart was seen.
var errRejoining = errors.New("redlock: node restarted, rejoining")

// uptimeJitter is how far uptime_in_seconds may seem to go back without
// a restart: Redis computes it from a clock it caches, so two readings a
// moment apart on two connections can differ by a second either way (seen:
// 1s, then 0s, on a server that had not restarted). A restart also shows
// as a new run_id, whatever its uptime.
const uptimeJitter = 2

// maxInfoLen bounds the INFO reply read on a new connection (a real one is
// about 1.5 KB).
const maxInfoLen = 64 << 10

// dialCtx is the node's dial function. Before the Redis client speaks on a
// new connection it reads the server's run_id and uptime on it: the first
// connection to a restarted server is where the restart shows, and the
// call that made the client dial (an acquire, say) must not be counted. A
// connection made while the node is rejoining is closed, so no call reaches
// the node until the delay ends; each such dial still reads INFO, so a
// second restart within the delay starts the delay again.
func (n *redisNode) dialCtx(ctx context.Context, addr string, d *net.Dialer, tc *tls.Config) (net.Conn, error) {
	var (
		conn net.Conn
		err  error
	)
	if tc != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
		conn = rawconn.Wrap(conn)
	}
	if err != nil {
		return nil, err
	}
	info, err := rawInfo(conn, n.cfg.dialTimeout, n.auth.user, n.auth.password)
	if err == nil {
		err = n.observe(info)
	}
	if err != nil {
		_ = conn.Close()
		if errors.Is(err, errRejoining) {
			n.setBlocked(err)
		}
		return nil, err
	}
	return conn, nil
}

// rawInfo sends INFO server on a fresh RESP2 connection (after AUTH, when
// there is a password) and reads the reply, within timeout. It reads
// exactly the replies, leaving the connection clean for the client that
// takes it over.
func rawInfo(conn net.Conn, timeout time.Duration, user, password string) (map[string]string, error) {
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	if password != "" {
		if user == "" {
			user = "default"
		}
		if _, err := io.WriteString(conn, respCommand("AUTH", user, password)); err != nil {
			return nil, fmt.Errorf("sending AUTH: %w", err)
		}
		line, err := readLine(conn)
		if err != nil {
			return nil, fmt.Errorf("reading AUTH's answer: %w", err)
		}
		if line != "+OK" {
			return nil, fmt.Errorf("AUTH refused: %s", line)
		}
	}
	if _, err := io.WriteString(conn, respCommand("INFO", "server")); err != nil {
		return nil, fmt.Errorf("sending INFO: %w", err)
	}
	head, err := readLine(conn)
	if err != nil {
		return nil, fmt.Errorf("reading INFO: %w", err)
	}
	if len(head) == 0 || head[0] != '$' {
		return nil, fmt.Errorf("INFO answered %q", head)
	}
	size, err := strconv.Atoi(head[1:])
	if err != nil || size < 0 || size > maxInfoLen {
		return nil, fmt.Errorf("INFO answered %q", head)
	}
	body := make([]byte, size+2)
	if _, err := io.ReadFull(conn, body); err != nil {
		return nil, fmt.Errorf("reading INFO: %w", err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return parseInfo(string(body[:size])), nil
}

// respCommand encodes a command as a RESP array of bulk strings.
func respCommand(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// readLine reads one CRLF-terminated line a byte at a time, so that
// nothing after it is consumed. Lines longer than 512 bytes are refused: a
// reply's header is short.
func readLine(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for len(line) <= 512 {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			if len(line) == 0 || line[len(line)-1] != '\r' {
				break
			}
			return string(line[:len(line)-1]), nil
		}
		line = append(line, b[0])
	}
	return "", fmt.Errorf("malformed reply line %q", line)
}

// observe records what INFO said about the node. A run_id other than the
// last one seen, or an uptime shorter than the last one read, is a restart:
// the node then rejoins (no vote) for the rejoin delay. It returns the
// rejoining error while the delay lasts.
func (n *redisNode) observe(info map[string]string) error {
	runID := info["run_id"]
	if runID == "" {
		return errors.New("INFO has no run_id")
	}
	uptime := int64(-1)
	if v, err := strconv.ParseInt(info["uptime_in_seconds"], 10, 64); err == nil {
		uptime = v
	}
	now := time.Now()
	n.mu.Lock()
	var why string
	switch {
	case n.runID == "":
	case runID != n.runID:
		why = fmt.Sprintf("its run_id changed from %s to %s", n.runID, runID)
	case uptime >= 0 && n.uptime >= 0 && uptime+uptimeJitter < n.uptime:
		why = fmt.Sprintf("its uptime went back from %ds to %ds", n.uptime, uptime)
	}
	delay := n.cfg.rejoinDelay
	if why != "" && delay > 0 {
		n.rejoinUntil = now.Add(delay)
		n.rejoinWhy = why
	}
	n.runID, n.uptime = runID, uptime
	if p, ok := info["maxmemory_policy"]; ok {
		n.policy, n.seen = p, now
	}
	err := n.rejoiningLocked(now)
	n.mu.Unlock()
	n.reg.update()
	if why != "" {
		log := n.cfg.log.With(slog.String("node", n.address), slog.String("why", why))
		if delay > 0 {
			log.Warn("redis node restarted: it may have forgotten locks, so it gets no vote until every lease it could have held has run out",
				slog.Duration("rejoin_delay", delay), slog.Time("until", now.Add(delay)))
		} else {
			log.Warn("redis node restarted; counted at once (rejoin delay 0: its data must survive restarts, appendfsync always)")
		}
	}
	return err
}

// rejoining returns the rejoining error while the node's rejoin delay
// lasts, else nil.
func (n *redisNode) rejoining() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rejoiningLocked(time.Now())
}

func (n *redisNode) rejoiningLocked(now time.Time) error {
	if !now.Before(n.rejoinUntil) {
		return nil
	}
	return fmt.Errorf("%w: %s; no vote until %s (%v left of the rejoin delay)",
		errRejoining, n.rejoinWhy, n.rejoinUntil.UTC().Format(time.RFC3339), n.rejoinUntil.Sub(now).Round(time.Second))
}

// rejoinLeft is how long the node's rejoin delay still lasts; 0 when it
// is not rejoining.
func (n *redisNode) rejoinLeft() time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	return max(time.Until(n.rejoinUntil), 0)
}

// nodeState names the state of a node whose check failed with err.
func nodeState(err error) string {
	switch {
	case errors.Is(err, errRejoining):
		return lockd.NodeRejoining
	case errors.Is(err, errRefused):
		return lockd.NodeRefused
	}
	return lockd.NodeDown
}

// checkTTL refuses a TTL above the engine's maximum, which the rejoin
// delay relies on: a restarted node's locks must all have run out when it
// votes again.
func (e *Engine) checkTTL(ttl time.Duration) error {
	if ttl > e.cfg.maxTTL {
		return &lockd.ArgumentError{Field: "ttl_ms", Reason: fmt.Sprintf("must be in [%d, %d] (this lockd's maximum TTL)",
			lockd.MinTTL.Milliseconds(), e.cfg.maxTTL.Milliseconds())}
	}
	return nil
}
