package nn

import (
	"hash/fnv"

	"math/rand/v2"
)

// RNG is a seeded source of random numbers. Each component of a run takes its
// own stream with Split, so adding randomness in one component does not shift
// the numbers another component sees.
type RNG struct {
	seed uint64
	pcg  *rand.PCG // the source's state, for saving and restoring it
	r    *rand.Rand
}

// NewRNG returns a generator for seed.
func NewRNG(seed uint64) *RNG {
	pcg := rand.NewPCG(seed, 0x9e3779b97f4a7c15)
	return &RNG{seed: seed, pcg: pcg, r: rand.New(pcg)}
}

// Split returns an independent generator named name, derived from this
// generator's seed (not from its current state).
func (g *RNG) Split(name string) *RNG { return NewRNG(DeriveSeed(g.seed, name)) }

// DeriveSeed mixes a seed and a name into a new seed.
func DeriveSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(name))
	return h.Sum64()
}

// Float32 returns a uniform value in [0, 1).
func (g *RNG) Float32() float32 { return g.r.Float32() }

// Norm32 returns a standard normal value.
func (g *RNG) Norm32() float32 { return float32(g.r.NormFloat64()) }

// IntN returns a uniform value in [0, n).
func (g *RNG) IntN(n int) int { return g.r.IntN(n) }

// Perm returns a random permutation of [0, n).
func (g *RNG) Perm(n int) []int { return g.r.Perm(n) }

// Shuffle shuffles idx in place.
func (g *RNG) Shuffle(idx []int) {
	g.r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
}

// FillNormal fills dst with normal values of the given standard deviation.
func (g *RNG) FillNormal(dst []float32, std float32) {
	for i := range dst {
		dst[i] = std * float32(g.r.NormFloat64())
	}
}

// FillUniform fills dst with uniform values in [-limit, limit).
func (g *RNG) FillUniform(dst []float32, limit float32) {
	for i := range dst {
		dst[i] = limit * (2*g.r.Float32() - 1)
	}
}
