package mongostore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/internal/testenv/mongoenv"
)

func TestMintFence(t *testing.T) {
	m := mongoenv.Start(t)

	t.Run("Sequential", func(t *testing.T) {
		s, _ := newStore(t, m)
		for want := int64(1); want <= 20; want++ {
			if got := mint(t, s, "seq"); got != want {
				t.Fatalf("mint %d: got fence %d, want %d", want, got, want)
			}
		}
		if got := mint(t, s, "seq-other"); got != 1 {
			t.Errorf("first mint of another name: got fence %d, want 1", got)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const goroutines, each = 8, 10
		s, _ := newStore(t, m)
		var (
			mu    sync.Mutex
			got   []int64
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for range goroutines {
			wg.Go(func() {
				<-start
				for range each {
					f, err := s.MintFence(ctxFor(t), testLease("concurrent", "owner"))
					if err != nil {
						t.Errorf("MintFence: %v", err)
						return
					}
					mu.Lock()
					got = append(got, f)
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		slices.Sort(got)
		want := make([]int64, goroutines*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got fences %v, want each of 1..%d once", got, len(want))
		}
	})

	t.Run("NewStore", func(t *testing.T) {
		first, _ := newStore(t, m)
		var last int64
		for range 3 {
			last = mint(t, first, "restart")
		}
		closeStore(t, first)
		second, _ := newStore(t, m) // a lockd restart
		if got := mint(t, second, "restart"); got != last+1 {
			t.Errorf("got fence %d from a new Store, want %d", got, last+1)
		}
	})

	t.Run("ArgumentError", func(t *testing.T) {
		s, _ := newStore(t, m)
		tests := []struct {
			name  string
			lease lockd.Lease
			field string
		}{
			{"Name", testLease("bad name", "owner"), "name"},
			{"EmptyName", testLease("", "owner"), "name"},
			{"MetadataArray", withMetadata(testLease("md", "owner"), `[1]`), "metadata"},
			{"MetadataBroken", withMetadata(testLease("md", "owner"), `{"a":`), "metadata"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.MintFence(ctxFor(t), tt.lease)
				var ae *lockd.ArgumentError
				if !errors.As(err, &ae) || ae.Field != tt.field {
					t.Fatalf("got %v, want *lockd.ArgumentError for %q", err, tt.field)
				}
			})
		}
	})
}

// TestMintFenceStopStart stops the server under a Store: minting fails
// closed, and once the server is back the same Store mints on from where
// the fence was.
func TestMintFenceStopStart(t *testing.T) {
	m := mongoenv.Start(t)
	s, _ := newStore(t, m)
	before := mint(t, s, "outage")
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	m.Stop()
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"MintFence", func() error {
			f, err := s.MintFence(ctxFor(t), testLease("outage", "owner"))
			if err == nil {
				return fmt.Errorf("got fence %d from a stopped server", f)
			}
			return err
		}},
		{"Ping", func() error { return s.Ping(ctxFor(t)) }},
		{"History", func() error { _, err := s.History(ctxFor(t), "outage", 10); return err }},
	} {
		t.Run(call.name+"/ErrStoreUnavailable", func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- call.do() }()
			select {
			case err := <-done:
				if !errors.Is(err, lockd.ErrStoreUnavailable) {
					t.Errorf("got %v, want ErrStoreUnavailable", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("did not return within 10s with the server stopped")
			}
		})
	}

	m.Start()
	// The driver finds the server again on its own; allow it a bounded
	// time to, then the same Store must mint the next fence.
	var (
		got int64
		err error
	)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if got, err = s.MintFence(ctxFor(t), testLease("outage", "owner")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("MintFence after Start: %v", err)
	}
	if got <= before {
		t.Errorf("got fence %d after the restart, want more than %d", got, before)
	}
	if err := s.Ping(ctxFor(t)); err != nil {
		t.Errorf("Ping after Start: %v", err)
	}
}

func withMetadata(l lockd.Lease, md string) lockd.Lease {
	l.Metadata = json.RawMessage(md)
	return l
}

func TestMetadataDoc(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bson.D
	}{
		{"Empty", `{}`, bson.D{}},
		{"KeepsOrder", `{"b":1,"a":2}`, bson.D{{Key: "b", Value: int64(1)}, {Key: "a", Value: int64(2)}}},
		{"Types", `{"s":"x","t":true,"n":null,"f":1.5,"big":9007199254740993,"huge":1e300}`, bson.D{
			{Key: "s", Value: "x"}, {Key: "t", Value: true}, {Key: "n", Value: nil},
			{Key: "f", Value: 1.5}, {Key: "big", Value: int64(9007199254740993)}, {Key: "huge", Value: 1e300},
		}},
		{"Nested", `{"o":{"a":[1,{"b":"c"}]}}`, bson.D{
			{Key: "o", Value: bson.D{{Key: "a", Value: bson.A{int64(1), bson.D{{Key: "b", Value: "c"}}}}}},
		}},
		{"NotExtendedJSON", `{"$numberLong":"5"}`, bson.D{{Key: "$numberLong", Value: "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := metadataDoc(json.RawMessage(tt.in))
			if err != nil {
				t.Fatalf("metadataDoc(%s): %v", tt.in, err)
			}
			gotB, _ := bson.Marshal(got)
			wantB, _ := bson.Marshal(tt.want)
			if !slices.Equal(gotB, wantB) {
				t.Errorf("metadataDoc(%s): got %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`[1]`, `"x"`, `{"a":1} {}`, `{"a":}`, ``} {
		t.Run("Error/"+bad, func(t *testing.T) {
			if got, err := metadataDoc(json.RawMessage(bad)); err == nil {
				t.Errorf("metadataDoc(%s): got %v, want an error", bad, got)
			}
		})
	}
}
