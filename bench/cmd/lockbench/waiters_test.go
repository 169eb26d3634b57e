package main

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bruteInversions counts inversions pair by pair.
func bruteInversions(xs []int64) int64 {
	var n int64
	for i := range xs {
		for j := i + 1; j < len(xs); j++ {
			if xs[i] > xs[j] {
				n++
			}
		}
	}
	return n
}

func TestCountInversions(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []int64
		want int64
	}{
		{name: "Empty", xs: nil, want: 0},
		{name: "One", xs: []int64{7}, want: 0},
		{name: "InOrder", xs: []int64{1, 2, 3, 4, 5}, want: 0},
		{name: "Reversed", xs: []int64{5, 4, 3, 2, 1}, want: 10},
		{name: "IssueExample", xs: []int64{4, 3, 1, 2}, want: 5}, // B,C,D,E asked; D,E,C,B granted
		{name: "OneSwap", xs: []int64{1, 3, 2, 4}, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := countInversions(tc.xs); got != tc.want {
				t.Errorf("countInversions(%v) = %d, want %d", tc.xs, got, tc.want)
			}
		})
	}
	t.Run("Random", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			xs := make([]int64, r.IntN(300))
			for i := range xs {
				xs[i] = int64(i)
			}
			r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
			before := append([]int64(nil), xs...)
			if got, want := countInversions(xs), bruteInversions(xs); got != want {
				t.Fatalf("countInversions = %d, want %d", got, want)
			}
			for i := range xs {
				if xs[i] != before[i] {
					t.Fatal("countInversions changed its input")
				}
			}
		}
	})
}

func TestKendallTau(t *testing.T) {
	for _, tc := range []struct {
		name       string
		inversions int64
		n          int
		want       float64
	}{
		{name: "InOrder", inversions: 0, n: 2000, want: 1},
		{name: "Reversed", inversions: 10, n: 5, want: -1},
		{name: "Half", inversions: 3, n: 4, want: 0},
		{name: "TooFew", inversions: 0, n: 1, want: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := kendallTau(tc.inversions, tc.n); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("kendallTau(%d, %d) = %v, want %v", tc.inversions, tc.n, got, tc.want)
			}
		})
	}
}
