package client_test

import (
	"context"
	"fmt"

	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/memlock"
)

// A service that must run on one node at a time campaigns, works while
// it leads, and resigns. Here the engine is linked in; client.New works
// the same over HTTP.
func ExampleClient_Campaign() {
	eng := memlock.New()
	defer eng.Close()
	c, _ := client.NewLocal(eng)
	ctx := context.Background()

	l, err := c.Campaign(ctx, "scheduler", client.Owner("node-a"), client.Metadata(map[string]string{"addr": "10.0.0.1:8080"}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("leading in term", l.Term())
	who, _ := c.Leader(ctx, "scheduler")
	fmt.Println(who.Owner, who.Term, string(who.Metadata))
	select {
	case <-l.Done():
		fmt.Println("lost:", l.Err()) // stop acting as leader
	default:
	}
	_ = l.Resign(ctx)
	// Output:
	// leading in term 1
	// node-a 1 {"addr":"10.0.0.1:8080"}
}

// Followers learn who leads, and every change, from Observe.
func ExampleClient_Observe() {
	eng := memlock.New()
	defer eng.Close()
	c, _ := client.NewLocal(eng)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	changes, err := c.Observe(ctx, "scheduler")
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(l client.Leader) {
		if !l.Leading {
			fmt.Println("nobody leads")
			return
		}
		fmt.Println(l.Owner, "leads in term", l.Term)
	}
	show(<-changes) // the current state first
	l, _ := c.Campaign(ctx, "scheduler", client.Owner("node-a"))
	show(<-changes)
	_ = l.Resign(ctx)
	show(<-changes)
	// Output:
	// nobody leads
	// node-a leads in term 1
	// nobody leads
}
