package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// Example_withLock runs a function while holding a lock, kept alive in the
// background; the function's context ends if the lock is lost.
func Example_withLock() {
	// A lockd in dev mode; in production, the address of lockd.
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	err = c.WithLock(ctx, "reports:nightly", func(ctx context.Context, lease *client.Lease) error {
		// Work here; pass lease.Fence() to what you write to.
		fmt.Println("running with fence", lease.Fence())
		return nil
	}, client.TTL(10*time.Second), client.Wait(time.Minute))
	fmt.Println("done:", err)
	// Output:
	// running with fence 1
	// done: <nil>
}

// ExampleNewLocal links the engine into the process: the same Client API,
// keep-alive and WithLock included, without a lockd server. Only the
// constructor differs from client.New.
func ExampleNewLocal() {
	engine := memlock.New() // or redlock.New(addrs) for Redis
	defer engine.Close()

	c, err := client.NewLocal(engine, client.WithOwner("worker-1"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	lease, err := c.Acquire(ctx, "jobs:42", client.TTL(5*time.Second), client.KeepAlive())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("held by", lease.Owner(), "with fence", lease.Fence())
	if err := lease.Release(ctx); err != nil {
		log.Fatal(err)
	}
	<-lease.Done()
	fmt.Println("over:", errors.Is(lease.Err(), client.ErrReleased))
	// Output:
	// held by worker-1 with fence 1
	// over: true
}

func Example() {
	// A lockd in dev mode; in production, the address of lockd.
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()

	c, err := client.New(srv.URL, client.WithOwner("billing-1"))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	lease, err := c.Acquire(ctx, "invoices:2024-06", client.TTL(30*time.Second), client.Wait(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("held by", lease.Owner(), "with fence", lease.Fence())

	// Another worker finds it taken.
	_, err = c.Acquire(ctx, "invoices:2024-06", client.Owner("billing-2"))
	var noe *lockd.NotObtainedError
	if errors.As(err, &noe) {
		fmt.Println("billing-2 waits for", noe.Holder.Owner)
	}

	if err := lease.Extend(ctx, time.Minute); err != nil {
		log.Fatal(err)
	}
	fmt.Println("extended to", lease.TTL())

	fmt.Println("release:", lease.Release(ctx))
	fmt.Println("again:", errors.Is(lease.Release(ctx), lockd.ErrNotHeld))
	// Output:
	// held by billing-1 with fence 1
	// billing-2 waits for billing-1
	// extended to 1m0s
	// release: <nil>
	// again: true
}
