package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a reported percentile is within 1/2^subBits (1.6%) of a sample.
const subBits = 6

const (
	subCount = 1 << subBits
	// numBuckets covers every non-negative int64 nanosecond count.
	numBuckets = (64 - subBits) * subCount
)

// histogram counts latencies in log-linear buckets: exact below 64ns, then
// 64 buckets per power of two. Its memory is fixed (about 30 KiB) however
// many samples it takes. The zero value is empty and ready; it is not safe
// for concurrent use, so each worker keeps its own and they are merged.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
}

func bucketOf(ns int64) int {
	if ns < subCount {
		return int(max(ns, 0))
	}
	msb := bits.Len64(uint64(ns)) - 1
	shift := msb - subBits
	return (shift+1)*subCount + int(uint64(ns)>>shift) - subCount
}

// bucketMid returns the middle of bucket i's range of nanoseconds.
func bucketMid(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/subCount - 1
	lo := int64(i%subCount+subCount) << shift
	return lo + (int64(1)<<shift)/2
}

// record adds one sample.
func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(int64(d))]++
	h.n++
}

// merge adds every sample of o.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0 < q <= 1) of the samples: the
// smallest bucket by which at least q of them are counted. It returns 0 for
// an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(i))
		}
	}
	return 0
}
