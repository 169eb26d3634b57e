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

// ExampleClient_AcquirePermit takes two of the three permits of a
// semaphore, is refused a third past the limit it asked for, and frees
// one. A permit is a *Lease like a lock's.
func ExampleClient_AcquirePermit() {
	// A lockd in dev mode; in production, the address of lockd.
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	var held []*client.Lease
	for range 3 {
		p, err := c.AcquirePermit(ctx, "exports", 3, client.TTL(30*time.Second), client.KeepAlive())
		if err != nil {
			log.Fatal(err)
		}
		held = append(held, p)
	}
	_, err = c.AcquirePermit(ctx, "exports", 3)
	fmt.Println("a fourth:", errors.Is(err, lockd.ErrNotObtained))
	_, err = c.AcquirePermit(ctx, "exports", 5)
	fmt.Println("under another limit:", errors.Is(err, lockd.ErrLimitConflict))
	if err := held[0].Release(ctx); err != nil {
		log.Fatal(err)
	}
	info, err := c.InspectSemaphore(ctx, "exports")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("live:", len(info.Permits), "of", info.Limit)
	for _, p := range held[1:] {
		_ = p.Release(ctx)
	}
	// Output:
	// a fourth: true
	// under another limit: true
	// live: 2 of 3
}

// ExampleClient_WithPermit runs a function under one of the permits of a
// semaphore, kept alive while it runs and released afterwards.
func ExampleClient_WithPermit() {
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	err = c.WithPermit(context.Background(), "exports", 4, func(ctx context.Context, p *client.Lease) error {
		fmt.Println("running with fence", p.Fence())
		return nil
	}, client.Wait(time.Minute))
	fmt.Println("done:", err)
	// Output:
	// running with fence 1
	// done: <nil>
}
