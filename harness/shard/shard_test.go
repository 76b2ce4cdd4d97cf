package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// units returns n distinct units: 10 configurations with n/10 seeds each.
func units(n int) []unit {
	out := make([]unit, 0, n)
	for i := range n {
		out = append(out, unit{fmt.Sprintf("%016x", uint64(i%10)*0x9e3779b97f4a7c15), uint64(i / 10)})
	}
	return out
}

type unit struct {
	hash string
	seed uint64
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		err  string
	}{
		{"0/8", Shard{0, 8}, ""},
		{"7/8", Shard{7, 8}, ""},
		{"0/1", All, ""},
		{" 2 / 3 ", Shard{2, 3}, ""},
		{"8/8", Shard{}, "index must be in 0..7"},
		{"-1/8", Shard{}, "index must be in 0..7"},
		{"1/0", Shard{}, "at least 1 shard"},
		{"3", Shard{}, "want i/n"},
		{"a/b", Shard{}, "want i/n"},
		{"", Shard{}, "want i/n"},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if s := got.String(); strings.ReplaceAll(tc.in, " ", "") != s {
			t.Errorf("%v.String() = %q", got, s)
		}
	}
}

// TestShardsPartition checks that the shards of n are disjoint, cover every
// unit, and share the units about evenly.
func TestShardsPartition(t *testing.T) {
	us := units(4000)
	for _, n := range []int{1, 2, 3, 8, 16} {
		sizes := make([]int, n)
		for _, u := range us {
			in := 0
			for i := range n {
				if (Shard{i, n}).Contains(u.hash, u.seed) {
					in++
					sizes[i]++
				}
			}
			if in != 1 {
				t.Fatalf("n %d: unit %v is in %d shards", n, u, in)
			}
		}
		// A binomial count: within 5 standard deviations of the mean.
		mean := float64(len(us)) / float64(n)
		sd := math.Sqrt(mean * (1 - 1/float64(n)))
		for i, size := range sizes {
			if math.Abs(float64(size)-mean) > 5*sd+1 {
				t.Errorf("n %d: shard %d has %d units, want about %.0f", n, i, size, mean)
			}
		}
	}
}

// TestShardsStable checks that a unit's shard does not depend on the other
// units: shards computed over a shuffled batch with more units agree with
// those of the first batch.
func TestShardsStable(t *testing.T) {
	first := units(500)
	before := map[unit]int{}
	for _, u := range first {
		before[u] = Of(u.hash, u.seed, 8)
	}
	more := units(2000)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(more), func(i, j int) { more[i], more[j] = more[j], more[i] })
	for _, u := range more {
		if b, ok := before[u]; ok && Of(u.hash, u.seed, 8) != b {
			t.Fatalf("unit %v moved from shard %d", u, b)
		}
	}
	// Fixed assignments: a changed hash would move the units of every
	// study split in shards by an earlier build.
	golden := []struct {
		hash  string
		seed  uint64
		n     int
		shard int
	}{
		{"3f2a9c0d1b7e5a44", 1, 8, 7},
		{"3f2a9c0d1b7e5a44", 2, 8, 2},
		{"0000000000000000", math.MaxUint64, 16, 6},
	}
	for _, g := range golden {
		if got := Of(g.hash, g.seed, g.n); got != g.shard {
			t.Errorf("Of(%s, %d, %d) = %d, want %d", g.hash, g.seed, g.n, got, g.shard)
		}
	}
}

// TestShardsGrow checks that going from n to n+1 shards moves a unit only
// into the new shard, and about 1/(n+1) of them.
func TestShardsGrow(t *testing.T) {
	us := units(4000)
	for _, n := range []int{1, 4, 7, 15} {
		moved := 0
		for _, u := range us {
			a, b := Of(u.hash, u.seed, n), Of(u.hash, u.seed, n+1)
			if a != b {
				if b != n {
					t.Fatalf("unit %v moved from shard %d to %d of %d, not to the new one", u, a, b, n+1)
				}
				moved++
			}
		}
		want := float64(len(us)) / float64(n+1)
		if math.Abs(float64(moved)-want) > 5*math.Sqrt(want)+1 {
			t.Errorf("%d to %d shards moved %d units, want about %.0f", n, n+1, moved, want)
		}
	}
}
