package redlock

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// TestListLocks lists held locks, writers and readers, by prefix and in
// pages, on three real nodes, also with one of them killed.
func TestListLocks(t *testing.T) {
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers), WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	for _, n := range []string{"x:2", "y:1", "x:1"} {
		if _, err := e.Acquire(ctx(t), n, lockd.AcquireOptions{Owner: "o", TTL: 30 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Acquire(ctx(t), "x:r", lockd.AcquireOptions{Owner: "reader", TTL: 30 * time.Second, Mode: lockd.ModeRead}); err != nil {
		t.Fatal(err)
	}
	names := func(p lockd.LockPage) string {
		var out []string
		for _, l := range p.Locks {
			out = append(out, l.Name)
		}
		return strings.Join(out, ",")
	}
	page, err := e.ListLocks(ctx(t), "x:", 0, "")
	if err != nil || names(page) != "x:1,x:2,x:r" || page.Next != "" {
		t.Fatalf("list x:: %+v, %v; want x:1,x:2,x:r", page, err)
	}
	if page.Locks[2].Mode != lockd.ModeRead || page.Locks[0].Owner != "o" {
		t.Errorf("list entries %+v, want x:r read and owners", page.Locks)
	}
	page, err = e.ListLocks(ctx(t), "", 2, "")
	if err != nil || names(page) != "x:1,x:2" || page.Next != "x:2" {
		t.Fatalf("first page of 2: %+v, %v", page, err)
	}
	page, err = e.ListLocks(ctx(t), "", 2, page.Next)
	if err != nil || names(page) != "x:r,y:1" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	servers[0].Kill()
	page, err = e.ListLocks(ctx(t), "y:", 0, "")
	if err != nil || names(page) != "y:1" {
		t.Errorf("list with a node killed: %+v, %v; want y:1", page, err)
	}
}

// TestForceRelease frees a writer and a set of readers without their
// leases: the holders find them lost, and others get them at once.
func TestForceRelease(t *testing.T) {
	e, _, _ := newFaultEngine(t, 3)
	a, err := e.Acquire(ctx(t), "stuck", lockd.AcquireOptions{Owner: "a", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := e.ForceRelease(ctx(t), "stuck", "hung")
	if err != nil || rel.Owner != "a" || rel.Fence != a.Fence {
		t.Fatalf("force release: %+v, %v; want a's lock", rel, err)
	}
	if _, err := e.Extend(ctx(t), "stuck", a.ID, time.Minute); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("a's extend after the forced release: %v, want ErrLost", err)
	}
	b, err := e.Acquire(ctx(t), "stuck", lockd.AcquireOptions{Owner: "b"})
	if err != nil || b.Fence <= a.Fence {
		t.Errorf("b after the forced release: %+v, %v; want a grant above fence %d", b, err, a.Fence)
	}
	if _, err := e.ForceRelease(ctx(t), "free", "nothing"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("force release of a free lock: %v, want ErrNotHeld", err)
	}
	if _, err := e.ForceRelease(ctx(t), "stuck", ""); !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Errorf("force release without a reason: %v, want ErrInvalidArgument", err)
	}
	for _, o := range []string{"r1", "r2"} {
		if _, err := e.Acquire(ctx(t), "shared", lockd.AcquireOptions{Owner: o, TTL: time.Minute, Mode: lockd.ModeRead}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.ForceRelease(ctx(t), "shared", "readers hung"); err != nil {
		t.Fatalf("force release of readers: %v", err)
	}
	if _, err := e.Acquire(ctx(t), "shared", lockd.AcquireOptions{Owner: "w"}); err != nil {
		t.Errorf("writer after the readers were freed: %v", err)
	}
}
