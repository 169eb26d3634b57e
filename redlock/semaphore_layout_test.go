package redlock

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv"
)

// TestSemaphoreDetailsApart: a permit's owner and metadata live in the
// semaphore's details hash, so the permits hash, which every semaphore
// script reads whole, holds only the small permit entries, however large
// the metadata.
func TestSemaphoreDetailsApart(t *testing.T) {
	e, servers := newEngineOnNew3(t)
	meta := `{"blob":"` + strings.Repeat("x", 4000) + `"}`
	var leases []lockd.Lease
	for i := range 3 {
		l, err := e.AcquirePermit(ctx(t), "apart", 8, lockd.AcquireOptions{Owner: "o" + string(rune('a'+i)), TTL: 30 * time.Second, Metadata: []byte(meta)})
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	e.settle()
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		all, err := c.Do(ctx(t), c.B().Hgetall().Key(e.semKey("apart")).Build()).AsStrMap()
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for k, v := range all {
			size += len(k) + len(v)
			if strings.HasPrefix(k, "o:") || strings.HasPrefix(k, "m:") {
				t.Errorf("node %s: permits hash holds %s", s.Addr(), k)
			}
		}
		if size > 1024 {
			t.Errorf("node %s: permits hash of 3 permits is %d bytes, want under 1 KiB", s.Addr(), size)
		}
		details, err := c.Do(ctx(t), c.B().Hgetall().Key(e.semDetailsKey("apart")).Build()).AsStrMap()
		if err != nil {
			t.Fatal(err)
		}
		if len(details) != 6 || details["m:"+leases[0].ID] != meta || details["o:"+leases[1].ID] != "ob" {
			t.Errorf("node %s: details hash has %d fields, want the 3 permits' owners and metadata", s.Addr(), len(details))
		}
		pttl, err := c.Do(ctx(t), c.B().Pttl().Key(e.semDetailsKey("apart")).Build()).AsInt64()
		if err != nil || pttl <= 0 || pttl > 30000 {
			t.Errorf("node %s: details hash PTTL %d, %v; want the last permit's, at most 30s", s.Addr(), pttl, err)
		}
	}
	got, err := e.InspectSemaphore(ctx(t), "apart")
	if err != nil || len(got.Permits) != 3 {
		t.Fatalf("InspectSemaphore = %+v, %v; want 3 permits", got, err)
	}
	for _, p := range got.Permits {
		if string(p.Metadata) != meta || !strings.HasPrefix(p.Owner, "o") {
			t.Errorf("permit of %q with metadata of %d bytes, want its owner and its metadata", p.Owner, len(p.Metadata))
		}
	}
	for _, l := range leases {
		if _, err := e.ReleasePermit(ctx(t), "apart", l.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.settle()
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		n, err := c.Do(ctx(t), c.B().Exists().Key(e.semKey("apart"), e.semDetailsKey("apart")).Build()).AsInt64()
		if err != nil || n != 0 {
			t.Errorf("node %s: %d of the semaphore's hashes left after the last release, %v; want none", s.Addr(), n, err)
		}
	}
}

// TestSemaphoreEarlierLayout: a permit written before the details had a
// hash of their own (owner and metadata in the permits hash) still shows
// them, and its release deletes them.
func TestSemaphoreEarlierLayout(t *testing.T) {
	e, servers := newEngineOnNew3(t)
	l, err := e.AcquirePermit(ctx(t), "old", 4, lockd.AcquireOptions{Owner: "before", TTL: 30 * time.Second, Metadata: []byte(`{"v":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	// Move the details back into the permits hash, as the earlier
	// scripts wrote them.
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		for _, cmd := range []rueidis.Completed{
			c.B().Hset().Key(e.semKey("old")).FieldValue().FieldValue("o:"+l.ID, "before").FieldValue("m:"+l.ID, `{"v":1}`).Build(),
			c.B().Del().Key(e.semDetailsKey("old")).Build(),
		} {
			if err := c.Do(ctx(t), cmd).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := e.InspectSemaphore(ctx(t), "old")
	if err != nil || len(got.Permits) != 1 || got.Permits[0].Owner != "before" || string(got.Permits[0].Metadata) != `{"v":1}` {
		t.Fatalf("InspectSemaphore = %+v, %v; want the permit of before with its metadata", got, err)
	}
	rel, err := e.ReleasePermit(ctx(t), "old", l.ID)
	if err != nil || rel.Owner != "before" {
		t.Fatalf("ReleasePermit = %+v, %v; want owner before", rel, err)
	}
	e.settle()
	for _, s := range servers {
		c := adminClient(t, s.Addr())
		n, err := c.Do(ctx(t), c.B().Exists().Key(e.semKey("old")).Build()).AsInt64()
		if err != nil || n != 0 {
			t.Errorf("node %s: permits hash left after the release (%d, %v), want it deleted with the old fields", s.Addr(), n, err)
		}
	}
}

// newEngineOnNew3 returns an engine over three new real nodes, and the
// nodes, for a test that looks at what the engine wrote on them.
func newEngineOnNew3(t *testing.T) (*Engine, []*testenv.Redis) {
	t.Helper()
	servers := testenv.StartRedis(t, 3)
	e, err := New(testenv.Addrs(servers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, servers
}

// TestSemaphoreStraySlotRepaired: a permit that one node holds on another
// slot than the quorum's (the undo after its acquire failed there) is
// moved to the quorum's slot by its next extend, so that node's other
// slot is free again: with limit 2, a second permit that needs that node
// is granted.
func TestSemaphoreStraySlotRepaired(t *testing.T) {
	e, faults, servers := newFaultEngine(t, 3)
	a, err := e.AcquirePermit(ctx(t), "stray", 2, lockd.AcquireOptions{Owner: "a", TTL: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	e.settle()
	// Node 2 holds a's permit on the other slot, as a failed undo leaves it.
	c := adminClient(t, servers[2].Addr())
	key := e.semKey("stray")
	v, err := c.Do(ctx(t), c.B().Hget().Key(key).Field("p:"+a.ID).Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	slot, rest, _ := strings.Cut(v, ":")
	other := map[string]string{"0": "1", "1": "0"}[slot]
	if err := c.Do(ctx(t), c.B().Hset().Key(key).FieldValue().FieldValue("p:"+a.ID, other+":"+rest).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got := rawPermits(t, e, faults[2], "stray"); got["a"] != atoi(t, other) {
		t.Fatalf("node 2 holds %v, want a on slot %s", got, other)
	}
	if _, err := e.ExtendPermit(ctx(t), "stray", a.ID, 30*time.Second); err != nil {
		t.Fatalf("ExtendPermit: %v", err)
	}
	e.settle()
	for i, f := range faults {
		if got := rawPermits(t, e, f, "stray"); len(got) != 1 || got["a"] != atoi(t, slot) {
			t.Errorf("node %d holds %v after the extend, want a on slot %s only", i, got, slot)
		}
	}
	// The other slot is free on every node again: with node 0 down, a
	// second permit needs nodes 1 and 2.
	only(faults, 0b110)
	if _, err := e.AcquirePermit(ctx(t), "stray", 2, lockd.AcquireOptions{Owner: "b", TTL: 30 * time.Second}); err != nil {
		t.Fatalf("a second permit on nodes 1 and 2: %v", err)
	}
	if got := rawPermits(t, e, faults[2], "stray"); got["b"] != atoi(t, other) {
		t.Errorf("node 2 holds %v, want b on slot %s", got, other)
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
