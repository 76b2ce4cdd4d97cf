package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestSeedRange(t *testing.T) {
	const max = math.MaxUint64
	tests := []struct {
		first uint64
		n     int
		want  string // the seeds, or the error's text
	}{
		{1, 3, "[1 2 3]"},
		{max, 1, "[18446744073709551615]"},
		{max - 1, 2, "[18446744073709551614 18446744073709551615]"},
		{max, 2, "would pass the largest seed, 18446744073709551615, and wrap to 0; use --seed 18446744073709551614 or less"},
		{1 << 63, 3, "[9223372036854775808 9223372036854775809 9223372036854775810]"},
		{5, 0, "--seeds 0: need at least 1"},
	}
	for _, tc := range tests {
		seeds, err := seedRange(tc.first, tc.n)
		got := fmt.Sprint(seeds)
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("seedRange(%d, %d) = %s, want %s", tc.first, tc.n, got, tc.want)
		}
	}
}
