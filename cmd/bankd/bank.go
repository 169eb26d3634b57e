package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/fence"
)

// accountsCollection holds one document per account:
// {_id: "acct-N", balance: int64}, plus _fence once a fenced write landed.
const accountsCollection = "accounts"

// Limits of the service.
const (
	// lockTTL is the lease time-to-live of an account lock. A bankd that
	// dies mid-transfer blocks its two accounts for at most this long.
	lockTTL = 10 * time.Second
	// leaseMargin is how much of a lease must be left, counted on the
	// local clock from before the first acquire, for a transfer to start
	// writing. It leaves room for the two writes and for clock drift
	// between bankd and lockd.
	leaseMargin = 2 * time.Second
	// writeTimeout bounds the write phase of a transfer, which runs
	// detached from the request so that a client hanging up (or a
	// shutdown) cannot cut a transfer between its two writes.
	writeTimeout = 10 * time.Second
	// releaseTimeout bounds the release of the locks after a transfer.
	releaseTimeout = 5 * time.Second
	// requestTimeout bounds a request, on top of the waits for two locks.
	requestTimeout = 20 * time.Second
	maxBodyBytes   = 64 << 10
	// maxAccounts, maxBalance and maxAmount keep every sum far from
	// int64 overflow.
	maxAccounts = 10000
	maxBalance  = 1_000_000_000_000
	maxAmount   = 1_000_000_000_000
)

// Errors of a transfer, and the HTTP status each one maps to (see status).
var (
	errBadRequest        = errors.New("bad request")                                         // 400
	errNoAccount         = errors.New("no such account")                                     // 404
	errInsufficientFunds = errors.New("insufficient funds")                                  // 409
	errLockTimeout       = errors.New("account lock not obtained in time")                   // 503
	errLockUnavailable   = errors.New("lock service unavailable")                            // 503
	errLockLost          = errors.New("account lock lost before the write; nothing written") // 503
	errHalfApplied       = errors.New("transfer half applied")                               // 500
)

// account is the shape of a document in the accounts collection.
type account struct {
	ID      string `bson:"_id"`
	Balance int64  `bson:"balance"`
}

// bank moves money between accounts. With locks set it takes a lockd lock
// per account and writes with fenced updates; with locks nil (--no-lock)
// it reads, thinks and writes with nothing to stop two transfers from
// overwriting each other. It is safe for concurrent use.
type bank struct {
	accounts *mongo.Collection
	locks    *client.Client
	think    time.Duration
	lockWait time.Duration
	log      *slog.Logger

	owner string        // prefix of the owner of every lock taken
	seq   atomic.Uint64 // makes each transfer's owner its own
}

// newBank returns a bank over the accounts collection. locks nil means no
// locking. think is the pause between reading and writing balances;
// lockWait is how long a transfer waits for each account lock.
func newBank(accounts *mongo.Collection, locks *client.Client, think, lockWait time.Duration, log *slog.Logger) *bank {
	return &bank{
		accounts: accounts,
		locks:    locks,
		think:    think,
		lockWait: lockWait,
		log:      log,
		owner:    ownerPrefix(),
	}
}

// ownerPrefix names this bankd: host, pid and 8 random hex digits.
func ownerPrefix() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "host"
	}
	if len(host) > 64 {
		host = host[:64]
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return "bankd-" + host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// lockName is the lockd lock that guards account id.
func lockName(id string) string { return "bank:" + id }

// transfer moves amount from one account to another.
//
// With locks, it takes both account locks in sorted order (two transfers
// over the same pair can then never hold one each and wait for the other),
// renews a lease that the wait for the other has half used up, reads both
// balances, thinks, writes both with fence.UpdateOne under each lock's
// fence, and releases the locks.
//
// It returns an error wrapping errBadRequest for bad input, errNoAccount,
// errInsufficientFunds, errLockTimeout when a lock stays taken past the
// wait, errLockUnavailable when lockd fails, errLockLost when a lease ran
// out before anything was written, and errHalfApplied when the debit landed
// but the credit did not (the lease ran out between the two writes).
func (b *bank) transfer(ctx context.Context, from, to string, amount int64) error {
	if err := validateTransfer(from, to, amount); err != nil {
		return err
	}
	if b.locks == nil {
		return b.move(ctx, from, to, amount, nil, time.Time{})
	}
	owner := b.owner + "-" + strconv.FormatUint(b.seq.Add(1), 10)
	ids := []string{from, to}
	slices.Sort(ids)
	held := make(map[string]*client.Lease, len(ids))
	defer b.release(held)
	// since[id] is when the lease of id was last confirmed, counted before
	// the call, on the local monotonic clock.
	since := make(map[string]time.Time, len(ids))
	for _, id := range ids {
		start := time.Now()
		l, err := b.locks.Acquire(ctx, lockName(id), client.Owner(owner), client.TTL(lockTTL), client.Wait(b.lockWait))
		switch {
		case errors.Is(err, lockd.ErrNotObtained):
			return fmt.Errorf("%w: %s: %w", errLockTimeout, lockName(id), err)
		case err != nil:
			return fmt.Errorf("%w: acquiring %s: %w", errLockUnavailable, lockName(id), err)
		}
		held[id], since[id] = l, start
	}
	// A long wait for the second lock eats into the first lease: renew
	// it rather than write on what is left.
	var writeBy time.Time
	for _, id := range ids {
		if time.Since(since[id]) > lockTTL/2 {
			start := time.Now()
			err := held[id].Extend(ctx, lockTTL)
			switch {
			case errors.Is(err, lockd.ErrLost):
				return fmt.Errorf("%w: %s: %w", errLockLost, lockName(id), err)
			case err != nil:
				return fmt.Errorf("%w: extending %s: %w", errLockUnavailable, lockName(id), err)
			}
			since[id] = start
		}
		if by := since[id].Add(lockTTL - leaseMargin); writeBy.IsZero() || by.Before(writeBy) {
			writeBy = by
		}
	}
	return b.move(ctx, from, to, amount, held, writeBy)
}

// move is the read-think-write of a transfer. held has the lease of each
// account, or is nil for unfenced writes; writes start only before
// writeBy.
func (b *bank) move(ctx context.Context, from, to string, amount int64, held map[string]*client.Lease, writeBy time.Time) error {
	bal, err := b.balances(ctx, from, to)
	if err != nil {
		return err
	}
	if bal[from] < amount {
		return errInsufficientFunds
	}
	if err := sleep(ctx, b.think); err != nil {
		return err
	}
	newFrom, newTo := bal[from]-amount, bal[to]+amount

	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	if held == nil {
		if err := b.setBalance(wctx, from, newFrom); err != nil {
			return err
		}
		if err := b.setBalance(wctx, to, newTo); err != nil {
			return fmt.Errorf("%w: %s debited, %s not credited: %w", errHalfApplied, from, to, err)
		}
		return nil
	}
	if time.Now().After(writeBy) {
		return fmt.Errorf("%w: the leases run out in less than %v", errLockLost, leaseMargin)
	}
	if err := b.setBalanceFenced(wctx, from, newFrom, held[from].Fence()); err != nil {
		if errors.Is(err, fence.ErrStale) {
			return fmt.Errorf("%w: %s: %w", errLockLost, from, err)
		}
		return err
	}
	if err := b.setBalanceFenced(wctx, to, newTo, held[to].Fence()); err != nil {
		return fmt.Errorf("%w: %s debited, %s not credited: %w", errHalfApplied, from, to, err)
	}
	return nil
}

// balances reads both accounts in one query. It returns an error wrapping
// errNoAccount when either is missing.
func (b *bank) balances(ctx context.Context, from, to string) (map[string]int64, error) {
	cur, err := b.accounts.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{from, to}}}}},
		options.Find().SetProjection(bson.D{{Key: "balance", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("reading balances: %w", err)
	}
	var accts []account
	if err := cur.All(ctx, &accts); err != nil {
		return nil, fmt.Errorf("reading balances: %w", err)
	}
	bal := make(map[string]int64, 2)
	for _, a := range accts {
		bal[a.ID] = a.Balance
	}
	for _, id := range []string{from, to} {
		if _, ok := bal[id]; !ok {
			return nil, fmt.Errorf("%w: %s", errNoAccount, id)
		}
	}
	return bal, nil
}

// setBalance overwrites a balance with no guard at all: the --no-lock
// path.
func (b *bank) setBalance(ctx context.Context, id string, balance int64) error {
	res, err := b.accounts.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: balance}}}})
	if err != nil {
		return fmt.Errorf("writing %s: %w", id, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("%w: %s", errNoAccount, id)
	}
	return nil
}

// setBalanceFenced overwrites a balance unless a newer lock holder has
// written to the account. It returns fence.ErrStale when one has.
func (b *bank) setBalanceFenced(ctx context.Context, id string, balance, token int64) error {
	_, err := fence.UpdateOne(ctx, b.accounts, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "balance", Value: balance}}}}, token)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return fmt.Errorf("%w: %s", errNoAccount, id)
	case err != nil:
		return fmt.Errorf("writing %s: %w", id, err)
	}
	return nil
}

// release frees the locks of a transfer, with a context of its own: the
// request's may have ended, and a lock left behind blocks its account for
// a whole TTL.
func (b *bank) release(held map[string]*client.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	for _, l := range held {
		if err := l.Release(ctx); err != nil {
			b.log.Warn("releasing lock", slog.String("lock", l.Name()), slog.Int64("fence", l.Fence()), slog.Any("err", err))
		}
	}
}

// seed replaces every account with n accounts acct-1..acct-n holding
// balance each. It is not atomic: do not seed while transfers run.
func (b *bank) seed(ctx context.Context, n int, balance int64) error {
	if n < 1 || n > maxAccounts {
		return fmt.Errorf("%w: accounts must be in [1, %d]", errBadRequest, maxAccounts)
	}
	if balance < 0 || balance > maxBalance {
		return fmt.Errorf("%w: balance must be in [0, %d]", errBadRequest, int64(maxBalance))
	}
	if _, err := b.accounts.DeleteMany(ctx, bson.D{}); err != nil {
		return fmt.Errorf("seeding: deleting accounts: %w", err)
	}
	docs := make([]any, n)
	for i := range docs {
		docs[i] = account{ID: "acct-" + strconv.Itoa(i+1), Balance: balance}
	}
	if _, err := b.accounts.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("seeding: inserting accounts: %w", err)
	}
	return nil
}

// total sums every balance and counts the accounts.
func (b *bank) total(ctx context.Context) (sum int64, n int, err error) {
	cur, err := b.accounts.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "balance", Value: 1}}))
	if err != nil {
		return 0, 0, fmt.Errorf("summing balances: %w", err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		var a account
		if err := cur.Decode(&a); err != nil {
			return 0, 0, fmt.Errorf("summing balances: %w", err)
		}
		sum += a.Balance
		n++
	}
	if err := cur.Err(); err != nil {
		return 0, 0, fmt.Errorf("summing balances: %w", err)
	}
	return sum, n, nil
}

// validateTransfer returns an error wrapping errBadRequest unless from and
// to are distinct account ids that make valid lock names and amount is in
// [1, maxAmount].
func validateTransfer(from, to string, amount int64) error {
	for _, f := range []struct{ field, id string }{{"from", from}, {"to", to}} {
		if f.id == "" {
			return fmt.Errorf("%w: %s is required", errBadRequest, f.field)
		}
		if err := lockd.ValidateName(lockName(f.id)); err != nil {
			return fmt.Errorf("%w: %s: want up to 195 characters from A-Z a-z 0-9 . _ : @ -", errBadRequest, f.field)
		}
	}
	if from == to {
		return fmt.Errorf("%w: from and to must differ", errBadRequest)
	}
	if amount < 1 || amount > maxAmount {
		return fmt.Errorf("%w: amount must be in [1, %d]", errBadRequest, int64(maxAmount))
	}
	return nil
}

// sleep waits for d or until ctx ends, returning ctx.Err() then.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handler serves the routes of the service.
func (b *bank) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /transfer", b.handleTransfer)
	mux.HandleFunc("POST /seed", b.handleSeed)
	mux.HandleFunc("GET /total", b.handleTotal)
	return mux
}

// timeout is the bound on one request: two lock waits and the work.
func (b *bank) timeout() time.Duration { return 2*b.lockWait + requestTimeout }

func (b *bank) handleTransfer(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout())
	defer cancel()
	var in struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Amount int64  `json:"amount"`
	}
	if err := decode(w, r, &in); err != nil {
		b.fail(w, r, err)
		return
	}
	if err := b.transfer(ctx, in.From, in.To, in.Amount); err != nil {
		b.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (b *bank) handleSeed(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout())
	defer cancel()
	var in struct {
		Accounts int   `json:"accounts"`
		Balance  int64 `json:"balance"`
	}
	if err := decode(w, r, &in); err != nil {
		b.fail(w, r, err)
		return
	}
	if err := b.seed(ctx, in.Accounts, in.Balance); err != nil {
		b.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "accounts": in.Accounts, "total": int64(in.Accounts) * in.Balance})
}

func (b *bank) handleTotal(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), b.timeout())
	defer cancel()
	sum, n, err := b.total(ctx)
	if err != nil {
		b.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": sum, "accounts": n})
}

// decode reads a JSON body of at most maxBodyBytes into v, refusing
// unknown fields and trailing data. Its errors wrap errBadRequest.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %w", errBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body: want one JSON object", errBadRequest)
	}
	return nil
}

// status is the one table from errors to HTTP statuses and the messages
// clients see. Anything else is a 500 whose detail goes to the log only.
func status(err error) (int, string) {
	for _, s := range []struct {
		err    error
		status int
	}{
		{errBadRequest, http.StatusBadRequest},
		{errNoAccount, http.StatusNotFound},
		{errInsufficientFunds, http.StatusConflict},
		{errLockTimeout, http.StatusServiceUnavailable},
		{errLockUnavailable, http.StatusServiceUnavailable},
		{errLockLost, http.StatusServiceUnavailable},
	} {
		if errors.Is(err, s.err) {
			if s.status == http.StatusServiceUnavailable {
				return s.status, s.err.Error()
			}
			return s.status, err.Error()
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return http.StatusServiceUnavailable, "timed out"
	}
	if errors.Is(err, errHalfApplied) {
		return http.StatusInternalServerError, errHalfApplied.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

// fail answers with the status of err and logs what the client is not
// told.
func (b *bank) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := status(err)
	switch {
	case code >= 500 && code != http.StatusServiceUnavailable:
		b.log.Error("request failed", slog.String("path", r.URL.Path), slog.Int("status", code), slog.Any("err", err))
	case code == http.StatusServiceUnavailable:
		b.log.Warn("request failed", slog.String("path", r.URL.Path), slog.Int("status", code), slog.Any("err", err))
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do then
}
