// Package shard splits the units of a batch (one configuration with one
// seed each) between independent jobs, such as the tasks of a Slurm array.
//
// A unit's shard depends on the unit alone, a hash of its config hash and
// seed, never on its position in a list: resubmitting a job, reordering the
// batch or adding units to it leaves every unit in its shard. Shards are
// numbered from 0, as Slurm numbers `--array=0-7`. When the number of shards
// grows from n to n+1, jump consistent hashing moves only about 1/(n+1) of
// the units, all of them into the new shard.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Shard is shard Index of Count (0 <= Index < Count).
type Shard struct {
	Index, Count int
}

// All is the one shard that holds every unit.
var All = Shard{Index: 0, Count: 1}

// Parse reads "i/n", shard i of n with 0 <= i < n.
func Parse(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, errI := strconv.Atoi(strings.TrimSpace(a))
	n, errN := strconv.Atoi(strings.TrimSpace(b))
	switch {
	case !ok || errI != nil || errN != nil:
		return Shard{}, fmt.Errorf("shard %q: want i/n, shard i of n counted from 0 (e.g. 0/8 ... 7/8)", s)
	case n < 1:
		return Shard{}, fmt.Errorf("shard %q: need at least 1 shard", s)
	case i < 0 || i >= n:
		return Shard{}, fmt.Errorf("shard %q: index must be in 0..%d (shards are counted from 0)", s, n-1)
	}
	return Shard{Index: i, Count: n}, nil
}

// String returns "i/n".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Contains reports whether the unit (configHash, seed) belongs to s.
func (s Shard) Contains(configHash string, seed uint64) bool {
	return Of(configHash, seed, s.Count) == s.Index
}

// Of returns the shard, in 0..count-1, of the unit (configHash, seed).
// count must be at least 1.
func Of(configHash string, seed uint64, count int) int {
	if count < 1 {
		panic(fmt.Sprintf("shard.Of: %d shards", count))
	}
	return jump(key(configHash, seed), count)
}

// key hashes a unit to 64 bits.
func key(configHash string, seed uint64) uint64 {
	h := sha256.New()
	h.Write([]byte(configHash))
	var b [9]byte // a separator, then the seed: "ab" + 1 and "a" + ... differ
	binary.BigEndian.PutUint64(b[1:], seed)
	h.Write(b[:])
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// jump is Lamping and Veach's jump consistent hash ("A Fast, Minimal
// Memory, Consistent Hash Algorithm", 2014): a bucket in 0..n-1 for key,
// such that growing n to n+1 moves a key only into bucket n.
func jump(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// Select returns the items that belong to s, in order; unit names an
// item's configuration hash and seed.
func Select[T any](s Shard, items []T, unit func(T) (configHash string, seed uint64)) []T {
	var out []T
	for _, it := range items {
		if s.Contains(unit(it)) {
			out = append(out, it)
		}
	}
	return out
}
