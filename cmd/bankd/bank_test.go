package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/internal/syncbuf"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
	"github.com/lockd/lockd/memlock"
)

// The demo's shape: instances bankd processes share one lockd and one
// database; each gets transfersPerInstance transfers from
// sendersPerInstance concurrent senders.
const (
	instances            = 4
	sendersPerInstance   = 4
	transfersPerInstance = 500
	seedAccounts         = 10
	seedBalance          = 1000
	maxTransfer          = 50
)

// testTimeout bounds each request the tests send and each wait they make.
const testTimeout = 30 * time.Second

// envOf returns an env lookup over m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// startBankd runs bankd (run, as main does) on a free loopback port with
// JSON logs, waits for its "listening" line and returns its base URL. The
// instance is shut down, and must return nil, when the test ends.
func startBankd(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncbuf.Buffer{}
	done := make(chan error, 1)
	args = append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...)
	go func() { done <- run(ctx, args, envOf(nil), io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after shutdown, want nil; logs:\n%s", err, logs)
			}
		case <-time.After(testTimeout):
			t.Errorf("run did not return within %v of shutdown", testTimeout)
		}
	})
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				return "http://" + line.Addr
			}
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("run returned early: %v; logs:\n%s", err, logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("bankd did not log \"listening\" within %v; logs:\n%s", testTimeout, logs)
	return ""
}

// httpClient is shared by the tests' senders; it keeps a connection per
// sender alive.
var httpClient = &http.Client{
	Timeout:   testTimeout,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64},
}

// post sends body as JSON and returns the status and decoded answer.
func post(ctx context.Context, url string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return send(req)
}

// get asks url and returns the status and decoded answer.
func get(ctx context.Context, url string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	return send(req)
}

func send(req *http.Request) (int, map[string]any, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: HTTP %d: decoding body: %w", req.Method, req.URL, resp.StatusCode, err)
	}
	return resp.StatusCode, out, nil
}

// intField returns out[key] as an int64, failing the test if it is not
// one.
func intField(t *testing.T, out map[string]any, key string) int64 {
	t.Helper()
	n, ok := out[key].(json.Number)
	if !ok {
		t.Fatalf("%q = %v (%T) in %v, want a number", key, out[key], out[key], out)
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("%q = %v: %v", key, n, err)
	}
	return v
}

// outcome counts the answers to the transfers of one run.
type outcome struct {
	mu       sync.Mutex
	statuses map[int]int
	errs     []error
	refused  map[string]int // 503 messages, for the log
}

func (o *outcome) add(code int, out map[string]any, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err != nil {
		o.errs = append(o.errs, err)
		return
	}
	o.statuses[code]++
	if code == http.StatusServiceUnavailable {
		msg, _ := out["error"].(string)
		o.refused[msg]++
	}
}

// demo seeds db through the first of instances bankd processes, sends
// transfersPerInstance random transfers to each, concurrently, and returns
// the outcome and the total that GET /total reports afterwards.
func demo(t *testing.T, mongoURI, db, lockdURL string, extra ...string) (*outcome, int64) {
	t.Helper()
	t.Cleanup(httpClient.CloseIdleConnections)
	urls := make([]string, instances)
	for i := range urls {
		urls[i] = startBankd(t, append([]string{"--mongo", mongoURI, "--db", db, "--lockd", lockdURL}, extra...)...)
	}
	// Under the race detector on two cores the locked run alone takes
	// about 110s; the bound is there to end a hung run, not to time it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	code, out, err := post(ctx, urls[0]+"/seed", map[string]any{"accounts": seedAccounts, "balance": seedBalance})
	if err != nil || code != http.StatusOK {
		t.Fatalf("POST /seed = %d %v, %v; want 200", code, out, err)
	}

	o := &outcome{statuses: make(map[int]int), refused: make(map[string]int)}
	var wg sync.WaitGroup
	start := time.Now()
	for i, url := range urls {
		for s := range sendersPerInstance {
			rng := rand.New(rand.NewPCG(uint64(i), uint64(s)))
			n := transfersPerInstance / sendersPerInstance
			if s < transfersPerInstance%sendersPerInstance {
				n++
			}
			wg.Go(func() {
				for range n {
					if ctx.Err() != nil {
						o.add(0, nil, fmt.Errorf("test deadline: %w", ctx.Err()))
						return
					}
					from := 1 + rng.IntN(seedAccounts)
					to := 1 + rng.IntN(seedAccounts-1)
					if to >= from {
						to++
					}
					code, out, err := post(ctx, url+"/transfer", map[string]any{
						"from": fmt.Sprintf("acct-%d", from), "to": fmt.Sprintf("acct-%d", to), "amount": 1 + rng.IntN(maxTransfer),
					})
					// 503 says nothing was written: a lock stayed taken
					// past the wait. The caller checks how many.
					if err == nil && code != http.StatusOK && code != http.StatusConflict && code != http.StatusServiceUnavailable {
						err = fmt.Errorf("POST /transfer: HTTP %d %v", code, out)
					}
					o.add(code, out, err)
				}
			})
		}
	}
	wg.Wait()
	t.Logf("%d transfers through %d instances in %v: statuses %v", instances*transfersPerInstance, instances, time.Since(start).Round(time.Millisecond), o.statuses)
	if len(o.refused) > 0 {
		t.Logf("503 answers: %v", o.refused)
	}

	code, out, err = get(ctx, urls[len(urls)-1]+"/total")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /total = %d %v, %v; want 200", code, out, err)
	}
	if got := intField(t, out, "accounts"); got != seedAccounts {
		t.Errorf("GET /total: accounts = %d, want %d", got, seedAccounts)
	}
	return o, intField(t, out, "total")
}

// TestDemo is the demo of docs/demo.md as a test: four bankd instances
// move money concurrently. With locks and fences the total never changes;
// without them, lost updates make it drift.
func TestDemo(t *testing.T) {
	m := mongoenv.Start(t)
	lockSrv := httptest.NewServer(httpapi.New(memlock.New()))
	t.Cleanup(lockSrv.Close)
	const want = seedAccounts * seedBalance

	// The two runs use separate databases; in parallel, one uses the CPU
	// while the other waits for its locks or for FerretDB's writer.
	t.Run("LockedKeepsTotal", func(t *testing.T) {
		t.Parallel()
		o, total := demo(t, m.URI(), m.Database()+"_locked", lockSrv.URL)
		for _, err := range o.errs[:min(len(o.errs), 5)] {
			t.Errorf("transfer: %v", err)
		}
		if len(o.errs) > 0 {
			t.Errorf("%d transfers failed, want 0", len(o.errs))
		}
		if got := o.statuses[http.StatusOK]; got < instances*transfersPerInstance/2 {
			t.Errorf("%d transfers answered 200, want at least half of %d", got, instances*transfersPerInstance)
		}
		// A 503 writes nothing, so it cannot change the total; but more
		// than a few mean transfers starve on their locks.
		if got, limit := o.statuses[http.StatusServiceUnavailable], instances*transfersPerInstance/100; got > limit {
			t.Errorf("%d transfers answered 503, want at most %d", got, limit)
		}
		if total != want {
			t.Errorf("total = %d after concurrent transfers with locks, want %d", total, want)
		}
	})

	t.Run("NoLockLosesUpdates", func(t *testing.T) {
		t.Parallel()
		o, total := demo(t, m.URI(), m.Database()+"_nolock", lockSrv.URL, "--no-lock")
		if len(o.errs) > 0 {
			t.Errorf("%d transfers failed (first: %v), want 0", len(o.errs), o.errs[0])
		}
		if got := o.statuses[http.StatusServiceUnavailable]; got > 0 {
			t.Errorf("%d transfers answered 503 without locks, want 0", got)
		}
		if total == want {
			t.Errorf("total = %d after concurrent transfers without locks, want it to differ from %d (lost updates)", total, want)
		}
		t.Logf("without locks the total drifted by %+d", total-want)
	})
}

// testBank is a bank over a fresh collection, served by an httptest server,
// with its own lockd.
type testBank struct {
	url   string
	coll  *mongo.Collection
	locks *client.Client
}

// newTestBank connects to m and serves a bank with a short lock wait.
func newTestBank(t *testing.T, m *mongoenv.Mongo, db string) *testBank {
	t.Helper()
	mc, err := mongo.Connect(options.Client().ApplyURI(m.URI()).SetTimeout(testTimeout))
	if err != nil {
		t.Fatalf("mongo.Connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := mc.Disconnect(ctx); err != nil {
			t.Errorf("Disconnect: %v", err)
		}
	})
	lockSrv := httptest.NewServer(httpapi.New(memlock.New()))
	t.Cleanup(lockSrv.Close)
	locks, err := client.New(lockSrv.URL, client.WithTimeout(testTimeout))
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	coll := mc.Database(db).Collection(accountsCollection)
	b := newBank(coll, locks, 0, 200*time.Millisecond, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(b.handler())
	t.Cleanup(srv.Close)
	return &testBank{url: srv.URL, coll: coll, locks: locks}
}

// balance reads an account's balance.
func (tb *testBank) balance(t *testing.T, id string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var a account
	if err := tb.coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
		t.Fatalf("FindOne(%s): %v", id, err)
	}
	return a.Balance
}

func TestRoutes(t *testing.T) {
	m := mongoenv.Start(t)
	tb := newTestBank(t, m, m.Database())
	t.Cleanup(httpClient.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	seed := func(t *testing.T) {
		t.Helper()
		code, out, err := post(ctx, tb.url+"/seed", map[string]any{"accounts": 3, "balance": 100})
		if err != nil || code != http.StatusOK {
			t.Fatalf("POST /seed = %d %v, %v; want 200", code, out, err)
		}
	}

	t.Run("SeedAndTotal", func(t *testing.T) {
		seed(t)
		code, out, err := get(ctx, tb.url+"/total")
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET /total = %d %v, %v; want 200", code, out, err)
		}
		if got := intField(t, out, "total"); got != 300 {
			t.Errorf("total = %d, want 300", got)
		}
		if got := intField(t, out, "accounts"); got != 3 {
			t.Errorf("accounts = %d, want 3", got)
		}
	})

	t.Run("TransferOK", func(t *testing.T) {
		seed(t)
		code, out, err := post(ctx, tb.url+"/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 30})
		if err != nil || code != http.StatusOK || out["ok"] != true {
			t.Fatalf("POST /transfer = %d %v, %v; want 200 {\"ok\":true}", code, out, err)
		}
		if got := tb.balance(t, "acct-1"); got != 70 {
			t.Errorf("acct-1 balance = %d, want 70", got)
		}
		if got := tb.balance(t, "acct-2"); got != 130 {
			t.Errorf("acct-2 balance = %d, want 130", got)
		}
	})

	tests := []struct {
		name string
		path string
		body any
		code int
		msg  string
	}{
		{"InsufficientFunds", "/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 101}, http.StatusConflict, "insufficient funds"},
		{"NoSuchAccount", "/transfer", map[string]any{"from": "acct-1", "to": "acct-9", "amount": 1}, http.StatusNotFound, "no such account: acct-9"},
		{"SameAccount", "/transfer", map[string]any{"from": "acct-1", "to": "acct-1", "amount": 1}, http.StatusBadRequest, "bad request: from and to must differ"},
		{"ZeroAmount", "/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 0}, http.StatusBadRequest, "bad request: amount must be in [1, 1000000000000]"},
		{"MissingFrom", "/transfer", map[string]any{"to": "acct-2", "amount": 1}, http.StatusBadRequest, "bad request: from is required"},
		{"BadAccountName", "/transfer", map[string]any{"from": "acct 1", "to": "acct-2", "amount": 1}, http.StatusBadRequest, ""},
		{"UnknownField", "/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 1, "memo": "x"}, http.StatusBadRequest, ""},
		{"FractionalAmount", "/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 1.5}, http.StatusBadRequest, ""},
		{"SeedTooMany", "/seed", map[string]any{"accounts": maxAccounts + 1, "balance": 1}, http.StatusBadRequest, ""},
		{"SeedNegative", "/seed", map[string]any{"accounts": 1, "balance": -1}, http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seed(t)
			code, out, err := post(ctx, tb.url+tt.path, tt.body)
			if err != nil {
				t.Fatalf("POST %s: %v", tt.path, err)
			}
			if code != tt.code {
				t.Errorf("POST %s %v: status = %d %v, want %d", tt.path, tt.body, code, out, tt.code)
			}
			msg, _ := out["error"].(string)
			if msg == "" || tt.msg != "" && msg != tt.msg {
				t.Errorf("POST %s %v: error = %q, want %q", tt.path, tt.body, msg, tt.msg)
			}
			if got := tb.balance(t, "acct-1"); got != 100 {
				t.Errorf("acct-1 balance = %d after a refused request, want 100", got)
			}
		})
	}

	t.Run("LockNotObtained", func(t *testing.T) {
		seed(t)
		l, err := tb.locks.Acquire(ctx, lockName("acct-2"), client.Owner("someone-else"), client.TTL(10*time.Second))
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		defer func() {
			if err := l.Release(ctx); err != nil {
				t.Errorf("Release: %v", err)
			}
		}()
		start := time.Now()
		code, out, err := post(ctx, tb.url+"/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 1})
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("POST /transfer while acct-2 is locked = %d %v, %v; want 503", code, out, err)
		}
		if got, want := out["error"], errLockTimeout.Error(); got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("answered after %v, want after the 200ms lock wait", d)
		}
		if got := tb.balance(t, "acct-1"); got != 100 {
			t.Errorf("acct-1 balance = %d, want 100", got)
		}
		// The transfer gave back the lock it did get.
		info, err := tb.locks.Inspect(ctx, lockName("acct-1"))
		if err != nil {
			t.Fatalf("Inspect: %v", err)
		}
		if info.Held {
			t.Errorf("acct-1 lock held by %q after the failed transfer, want free", info.Owner)
		}
	})

	t.Run("StaleFenceWritesNothing", func(t *testing.T) {
		seed(t)
		// A newer holder (fence far above any this lockd has granted) has
		// written acct-1: this transfer's fence is stale.
		uctx, cancel := context.WithTimeout(ctx, testTimeout)
		defer cancel()
		if _, err := tb.coll.UpdateOne(uctx, bson.D{{Key: "_id", Value: "acct-1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "_fence", Value: int64(1 << 40)}}}}); err != nil {
			t.Fatalf("UpdateOne: %v", err)
		}
		code, out, err := post(ctx, tb.url+"/transfer", map[string]any{"from": "acct-1", "to": "acct-2", "amount": 10})
		if err != nil || code != http.StatusServiceUnavailable {
			t.Fatalf("POST /transfer with a stale fence = %d %v, %v; want 503", code, out, err)
		}
		if got, want := out["error"], errLockLost.Error(); got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		if got := tb.balance(t, "acct-1"); got != 100 {
			t.Errorf("acct-1 balance = %d, want 100", got)
		}
		if got := tb.balance(t, "acct-2"); got != 100 {
			t.Errorf("acct-2 balance = %d, want 100", got)
		}
	})
}

func TestParseConfig(t *testing.T) {
	t.Run("Defaults", func(t *testing.T) {
		cfg, err := parseConfig(nil, envOf(nil), io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("parseConfig: %v", err)
		}
		want := config{addr: ":3100", lockd: "http://127.0.0.1:3000", mongo: "mongodb://127.0.0.1:27017", db: "bank", think: 2 * time.Millisecond, lockWait: 10 * time.Second, logFormat: "text"}
		if cfg != want {
			t.Errorf("got %+v, want %+v", cfg, want)
		}
	})

	t.Run("EnvThenFlag", func(t *testing.T) {
		env := envOf(map[string]string{"BANKD_ADDR": ":4000", "BANKD_DB": "envdb", "BANKD_NO_LOCK": "1", "BANKD_THINK": "5ms"})
		cfg, err := parseConfig([]string{"--db", "flagdb", "--no-lock=false"}, env, io.Discard, io.Discard)
		if err != nil {
			t.Fatalf("parseConfig: %v", err)
		}
		if cfg.addr != ":4000" || cfg.db != "flagdb" || cfg.noLock || cfg.think != 5*time.Millisecond {
			t.Errorf("got addr %q db %q noLock %v think %v, want :4000 flagdb false 5ms", cfg.addr, cfg.db, cfg.noLock, cfg.think)
		}
	})

	t.Run("NoLockFlag", func(t *testing.T) {
		cfg, err := parseConfig([]string{"--no-lock"}, envOf(nil), io.Discard, io.Discard)
		if err != nil || !cfg.noLock {
			t.Errorf("parseConfig(--no-lock) = noLock %v, %v; want true, nil", cfg.noLock, err)
		}
	})

	t.Run("Help", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"--help"}, envOf(nil), &out, io.Discard); err != nil {
			t.Fatalf("run --help = %v, want nil", err)
		}
		for _, s := range command.Settings {
			if !strings.Contains(out.String(), "--"+s.Flag) || !strings.Contains(out.String(), s.Env) {
				t.Errorf("--help does not mention --%s and %s:\n%s", s.Flag, s.Env, out.String())
			}
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"BadThink", []string{"--think", "soon"}, nil},
		{"NegativeThink", []string{"--think", "-1ms"}, nil},
		{"BadNoLockEnv", nil, map[string]string{"BANKD_NO_LOCK": "maybe"}},
		{"BadLockd", []string{"--lockd", "127.0.0.1:3000"}, nil},
		{"LongLockWait", []string{"--lock-wait", "6m"}, nil},
		{"BadLogFormat", []string{"--log-format", "xml"}, nil},
		{"UnknownFlag", []string{"--color"}, nil},
		{"ExtraArgument", []string{"now"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, envOf(tt.env), io.Discard, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Errorf("run(%q, env %v) = %v, want a *usageError", tt.args, tt.env, err)
			}
		})
	}
}
