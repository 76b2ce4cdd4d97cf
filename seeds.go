package main

import (
	"fmt"
	"math"
)

// seedRange returns the n consecutive seeds first, first+1, ..., and
// refuses a range that would pass the largest seed, 2^64-1, and wrap to 0.
func seedRange(first uint64, n int) ([]uint64, error) {
	if n < 1 {
		return nil, fmt.Errorf("--seeds %d: need at least 1", n)
	}
	if uint64(n-1) > math.MaxUint64-first {
		return nil, fmt.Errorf("--seed %d --seeds %d: the seeds would pass the largest seed, %d, and wrap to 0; use --seed %d or less",
			first, n, uint64(math.MaxUint64), uint64(math.MaxUint64)-uint64(n-1))
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = first + uint64(i)
	}
	return seeds, nil
}
