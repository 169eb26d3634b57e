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
	if err := engine.Release(ctx, "orders:42", a.ID); err != nil {
		panic(err)
	}
	fmt.Println("released twice:", errors.Is(engine.Release(ctx, "orders:42", a.ID), lockd.ErrNotHeld))
	b, _ := engine.Acquire(ctx, "orders:42", lockd.AcquireOptions{Owner: "svc-b-1"})
	fmt.Println("fence grew:", b.Fence > a.Fence)
	// Output:
	// held by svc-a-1
	// released twice: true
	// fence grew: true
}
