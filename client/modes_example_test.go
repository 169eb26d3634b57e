package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/client"
	"github.com/lockd/lockd/httpapi"
	"github.com/lockd/lockd/memlock"
)

// ExampleLease_Reenter takes a reentrant lock, enters it again from code
// that needs the same lock, and releases the holds innermost first: the
// lock is free after the last.
func ExampleLease_Reenter() {
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	outer, err := c.Acquire(ctx, "ledger", client.Reentrant(), client.KeepAlive())
	if err != nil {
		log.Fatal(err)
	}
	inner, err := outer.Reenter(ctx) // same lease, same fence, one more hold
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same fence:", inner.Fence() == outer.Fence())
	if err := inner.Release(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Acquire(ctx, "ledger")
	fmt.Println("others, with the outer hold left:", errors.Is(err, lockd.ErrNotObtained))
	if err := outer.Release(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Acquire(ctx, "ledger")
	fmt.Println("others, after the last hold:", err)
	// Output:
	// same fence: true
	// others, with the outer hold left: true
	// others, after the last hold: <nil>
}

// ExampleRead takes two read leases at once; a writer waits for both.
func ExampleRead() {
	srv := httptest.NewServer(httpapi.New(memlock.New()))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	r1, err := c.Acquire(ctx, "catalog", client.Read())
	if err != nil {
		log.Fatal(err)
	}
	r2, err := c.Acquire(ctx, "catalog", client.Read())
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.Inspect(ctx, "catalog")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Mode, "by", info.Readers)
	_, err = c.Acquire(ctx, "catalog")
	fmt.Println("writer while they read:", errors.Is(err, lockd.ErrNotObtained))
	for _, r := range []*client.Lease{r1, r2} {
		if err := r.Release(ctx); err != nil {
			log.Fatal(err)
		}
	}
	w, err := c.Acquire(ctx, "catalog")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("writer after them: mode %q\n", w.Mode())
	// Output:
	// read by 2
	// writer while they read: true
	// writer after them: mode ""
}
