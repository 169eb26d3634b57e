package locktest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lockd/lockd"
)

// listLocks: an engine that lists (lockd.Lister) lists the held locks
// under a prefix, in name order and in pages, and not the free ones.
func (s *suite) listLocks(t *testing.T) {
	l, ok := s.e.(lockd.Lister)
	if !ok {
		t.Skip("this engine does not list its locks (lockd.Lister)")
	}
	prefix := lockName(t) + ":"
	for _, n := range []string{"b", "a", "c"} {
		s.mustAcquire(t, prefix+n, lockd.AcquireOptions{Owner: "o-" + n, TTL: 30 * time.Second})
	}
	freed := s.mustAcquire(t, prefix+"d", lockd.AcquireOptions{Owner: "o-d"})
	if _, err := s.e.Release(ctxFor(t), prefix+"d", freed.ID); err != nil {
		t.Fatal(err)
	}
	var got []string
	after := ""
	for range 10 {
		page, err := l.ListLocks(ctxFor(t), prefix, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range page.Locks {
			if !info.Held || info.Owner != "o-"+strings.TrimPrefix(info.Name, prefix) {
				t.Errorf("listed %+v", info)
			}
			got = append(got, strings.TrimPrefix(info.Name, prefix))
		}
		if after = page.Next; after == "" {
			break
		}
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("listed %v, want a,b,c in pages of 2", got)
	}
	if _, err := l.ListLocks(ctxFor(t), "bad prefix", 0, ""); !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Errorf("a bad prefix: %v, want ErrInvalidArgument", err)
	}
}

// forceRelease: an engine that forces releases (lockd.ForceReleaser) frees
// a held lock without its lease, says whose it was, and answers
// ErrNotHeld for a free one.
func (s *suite) forceRelease(t *testing.T) {
	f, ok := s.e.(lockd.ForceReleaser)
	if !ok {
		t.Skip("this engine does not force releases (lockd.ForceReleaser)")
	}
	name := lockName(t)
	a := s.mustAcquire(t, name, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	rel, err := f.ForceRelease(ctxFor(t), name, "test")
	if err != nil || rel.Owner != "a" || rel.Fence != a.Fence {
		t.Fatalf("ForceRelease: %+v, %v; want a's lock", rel, err)
	}
	if _, err := s.e.Extend(ctxFor(t), name, a.ID, 0); !errors.Is(err, lockd.ErrLost) {
		t.Errorf("the holder's extend: %v, want ErrLost", err)
	}
	if _, err := f.ForceRelease(ctxFor(t), name, "again"); !errors.Is(err, lockd.ErrNotHeld) {
		t.Errorf("ForceRelease of a free lock: %v, want ErrNotHeld", err)
	}
	if _, err := f.ForceRelease(ctxFor(t), name, ""); !errors.Is(err, lockd.ErrInvalidArgument) {
		t.Errorf("ForceRelease without a reason: %v, want ErrInvalidArgument", err)
	}
}
