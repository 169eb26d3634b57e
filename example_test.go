package lockd_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/lockd/lockd"
	"github.com/lockd/lockd/memlock"
)

// Two owners contend for one lock; the loser learns who holds it, and the
// fence of the next grant is larger.
func Example() {
	ctx := context.Background()
	var engine lockd.Engine = memlock.New()
	defer engine.Close()

	a, err := engine.Acquire(ctx, "orders:42", lockd.AcquireOptions{Owner: "svc-a-1"})
	if err != nil {
		panic(err)
	}
	_, err = engine.Acquire(ctx, "orders:42", lockd.AcquireOptions{Owner: "svc-b-1"})
	var held *lockd.NotObtainedError
	if errors.As(err, &held) {
		fmt.Println("held by", held.Holder.Owner)
	}
	if _, err := engine.Release(ctx, "orders:42", a.ID); err != nil {
		panic(err)
	}
	_, err = engine.Release(ctx, "orders:42", a.ID)
	fmt.Println("released twice:", errors.Is(err, lockd.ErrNotHeld))
	b, _ := engine.Acquire(ctx, "orders:42", lockd.AcquireOptions{Owner: "svc-b-1"})
	fmt.Println("fence grew:", b.Fence > a.Fence)
	// Output:
	// held by svc-a-1
	// released twice: true
	// fence grew: true
}

// A caller that brings its own lease can retry an acquire whose answer it
// never saw: the retry returns the same grant. The owner label alone gets
// nothing, and Release says what it deleted.
func Example_retry() {
	ctx := context.Background()
	var engine lockd.Engine = memlock.New()
	defer engine.Close()

	lease := lockd.NewLeaseID() // keep it secret: whoever knows it holds the lock
	opts := lockd.AcquireOptions{Owner: "svc-a-1", Lease: lease}
	first, err := engine.Acquire(ctx, "orders:42", opts)
	if err != nil {
		panic(err)
	}
	retry, err := engine.Acquire(ctx, "orders:42", opts) // say the first answer was lost
	if err != nil {
		panic(err)
	}
	fmt.Println("same grant:", retry.ID == first.ID, "fence", retry.Fence)

	_, err = engine.Acquire(ctx, "orders:42", lockd.AcquireOptions{Owner: "svc-a-1"})
	fmt.Println("owner label alone:", errors.Is(err, lockd.ErrNotObtained))

	r, err := engine.Release(ctx, "orders:42", lease)
	if err != nil {
		panic(err)
	}
	fmt.Println("released", r.Name, "of", r.Owner, "fence", r.Fence)
	// Output:
	// same grant: true fence 1
	// owner label alone: true
	// released orders:42 of svc-a-1 fence 1
}
