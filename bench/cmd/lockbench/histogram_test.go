package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for _, ns := range []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1e6, 1e9, 1 << 62, 1<<63 - 1} {
		b := bucketOf(ns)
		if b <= prev || b >= numBuckets {
			t.Errorf("bucketOf(%d) = %d, want in (%d, %d)", ns, b, prev, numBuckets)
		}
		prev = b
		if mid := bucketMid(b); relErr(mid, ns) > 1.0/subCount {
			t.Errorf("bucketMid(bucketOf(%d)) = %d, off by more than 1/%d", ns, mid, subCount)
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Run("Empty", func(t *testing.T) {
		var h histogram
		if got := h.quantile(0.99); got != 0 {
			t.Errorf("quantile of empty = %v, want 0", got)
		}
	})
	t.Run("OK", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		var a, b histogram
		samples := make([]int64, 100000)
		for i := range samples {
			samples[i] = int64(50*time.Microsecond) + r.Int64N(int64(20*time.Millisecond))
			if i%2 == 0 {
				a.record(time.Duration(samples[i]))
			} else {
				b.record(time.Duration(samples[i]))
			}
		}
		a.merge(&b)
		slices.Sort(samples)
		for _, q := range []float64{0.5, 0.99} {
			want := samples[int(q*float64(len(samples)))-1]
			got := int64(a.quantile(q))
			if relErr(got, want) > 2.0/subCount {
				t.Errorf("quantile(%v) = %v, want about %v", q, time.Duration(got), time.Duration(want))
			}
		}
	})
}

func relErr(got, want int64) float64 {
	if want == 0 {
		return float64(got)
	}
	d := float64(got - want)
	if d < 0 {
		d = -d
	}
	return d / float64(want)
}
