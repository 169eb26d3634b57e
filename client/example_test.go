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
