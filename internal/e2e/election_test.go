package e2e_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/election"
	"github.com/lockd/lockd/locktest"
)

// TestElectionNodeFault runs campaigners with keep-alive and an observer
// on three real Redis nodes, and kills or pauses one node half-way: there
// is never more than one leader whose leadership is still good, terms
// grow, and the observer sees every term, in order.
func TestElectionNodeFault(t *testing.T) {
	for _, fault := range []string{"Kill", "Pause"} {
		t.Run(fault, func(t *testing.T) {
			both(t, func(t *testing.T, cl *cluster, c *client.Client) {
				campaign(t, c, func() {
					if fault == "Kill" {
						cl.nodes[2].Kill()
						return
					}
					cl.nodes[2].Pause()
					t.Cleanup(cl.nodes[2].Resume)
				})
			})
		})
	}
}

// campaign runs three campaigners on one election for 3s, calling fault
// after 1s, and checks the election's guarantees.
func campaign(t *testing.T, c *client.Client, fault func()) {
	const (
		campaigners = 3
		run         = 3 * time.Second
		hold        = 50 * time.Millisecond
	)
	ctx := ctxFor(t, 60*time.Second)
	obs, err := c.Observe(ctx, "e2e:election")
	if err != nil {
		t.Fatal(err)
	}
	log := locktest.LogLeaders(obs)
	var (
		leaders atomic.Int32
		mu      sync.Mutex
		terms   []int64
		wg      sync.WaitGroup
	)
	end := time.Now().Add(run)
	time.AfterFunc(run/3, fault)
	for i := range campaigners {
		wg.Go(func() {
			for time.Now().Before(end) {
				l, err := c.Campaign(ctx, "e2e:election", client.Owner(fmt.Sprint("c", i)), client.TTL(time.Second), client.Wait(10*time.Second))
				if err != nil {
					t.Errorf("Campaign: %v", err)
					return
				}
				if n := leaders.Add(1); n != 1 {
					t.Errorf("%d leaders at once", n)
				}
				mu.Lock()
				if len(terms) > 0 && l.Term() <= terms[len(terms)-1] {
					t.Errorf("term %d after %d", l.Term(), terms[len(terms)-1])
				}
				terms = append(terms, l.Term())
				mu.Unlock()
				select {
				case <-l.Done(): // lost: it leads no more, at once
					t.Logf("term %d lost while leading: %v", l.Term(), l.Err())
				case <-time.After(hold):
				}
				leaders.Add(-1)
				_ = l.Resign(ctx)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	want := fmt.Sprint(terms)
	n := len(terms)
	mu.Unlock()
	if n < campaigners {
		t.Errorf("%d terms in %v, want campaigners to take turns", n, run)
	}
	log.WaitFor(t, 10*time.Second, "every term", func(s []election.Leader) bool {
		var got []int64
		for _, l := range s {
			if l.Leading {
				got = append(got, l.Term)
			}
		}
		return fmt.Sprint(got) == want
	})
	locktest.CheckLeaderOrder(t, "e2e:election", log.Seen())
	t.Logf("%d terms", n)
}
