package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Constructions of a permuted stream (StreamConfig.Permuted).
const (
	// PermutedPadded is van de Ven & Tolias's permuted MNIST ("Three
	// scenarios for continual learning", 2019; their data code in
	// GMvandeVen/continual-learning): every image is first centred on a
	// 32×32 canvas of zeros (MNIST's 28×28 gets 2 pixels on every side,
	// torchvision's Pad(2)), then the 1024 pixel positions are permuted,
	// one permutation per task and the same for every channel. Every task
	// is permuted, the first too, and the values stay as the dataset gives
	// them. Images already 32 or more wide (or high) are not padded that
	// way.
	PermutedPadded = "padded"
	// PermutedPlain permutes the C·H·W values of an image as the dataset
	// gives it (MNIST: 784), channels mixed, one permutation per task: the
	// only construction before the choice existed, and what a stored spec
	// without the choice ran.
	PermutedPlain = "plain"
)

// PermutedConstructions lists the values StreamConfig.Permuted accepts
// (besides "", which is PermutedPlain).
func PermutedConstructions() []string { return []string{PermutedPadded, PermutedPlain} }

func checkPermuted(p string) error {
	switch p {
	case "", PermutedPadded, PermutedPlain:
		return nil
	}
	return fmt.Errorf("permuted %q: want %s", p, strings.Join(PermutedConstructions(), " or "))
}

// paddedSide is the side of van de Ven & Tolias's padded canvas.
const paddedSide = 32

// Examples is one of a task's two sets, its training or its test examples,
// as the stream holds it. Set gives the examples.
//
// A permuted task does not hold its pixels: it holds the dataset's set,
// which every task of the stream shares, and the task's permutation, and
// Set makes the permuted examples when they are needed. A copy per task
// would cost the whole dataset once per task (about 220 MB for MNIST, 22 GB
// for 100 tasks). The fields are unexported so that nothing can take the
// dataset's unpermuted pixels for the task's.
type Examples struct {
	set  Set          // the task's own examples, or with perm the dataset's
	perm *permutation // nil: set is the task's examples as they are
}

// Len is the number of examples, known without making them.
func (e Examples) Len() int { return e.set.Len() }

// Shape is the shape of one example as Set gives it.
func (e Examples) Shape() Shape {
	if e.perm != nil {
		return e.perm.shape
	}
	return e.set.Shape
}

// Set returns the examples. A split or joint task's set is the one the
// stream holds, shared: it must not be changed. A permuted task's set is
// made anew on every call and belongs to the caller, who should hold it
// only while it is needed (a training set while its task is learned, a
// test set while it is scored): then the stream's memory does not grow
// with its number of tasks.
func (e Examples) Set() Set {
	if e.perm == nil {
		return e.set
	}
	return e.perm.apply(e.set, 0, e.set.Len())
}

// Rows is Set's examples lo to hi (hi excluded), so that a large set can be
// scored a piece at a time: a split or joint task's are a slice of the
// shared set, a permuted task's are made anew on every call.
func (e Examples) Rows(lo, hi int) Set {
	if e.perm == nil {
		d := e.set.Shape.Size()
		return Set{X: e.set.X[lo*d : hi*d : hi*d], Y: e.set.Y[lo:hi:hi], Shape: e.set.Shape}
	}
	return e.perm.apply(e.set, lo, hi)
}

// stats is ChannelStats of the examples, computed without making them all.
func (e Examples) stats() (mean, std []float64) {
	if e.perm == nil {
		return ChannelStats(e.set)
	}
	buf := make([]float32, e.perm.shape.Size())
	return channelStats(e.perm.shape, e.set.Len(), func(i int) []float32 {
		e.perm.row(buf, e.set.Row(i))
		return buf
	})
}

// standardized is the examples mapped by Standardize with mean and std: a
// split or joint task's set is standardised once, here; a permuted task's
// examples are standardised as Set makes them, with the same arithmetic.
func (e Examples) standardized(mean, std []float64) Examples {
	if e.perm == nil {
		return Examples{set: Standardize(e.set, mean, std)}
	}
	p := *e.perm
	p.mean, p.std = mean, std
	return Examples{set: e.set, perm: &p}
}

// permutation is how a permuted task makes its examples from the dataset's.
type permutation struct {
	// gather says where each value of a made example comes from: value i
	// is value gather[i] of the dataset's example, or 0 (padding) where
	// gather[i] is negative.
	gather []int32
	shape  Shape // the shape of a made example
	offset int   // added to every label
	// mean and std, when not nil, standardise every made value by its
	// channel (PixelsStandard), as Standardize does.
	mean, std []float64
}

// newPermutation is the permutation drawn from seed, for examples of shape
// in, by construction (PermutedPadded or PermutedPlain), with labels moved
// up by offset. The plain construction draws rand.Perm of the C·H·W values
// exactly as the stream always has, so its tasks are those of earlier runs.
func newPermutation(in Shape, construction string, seed int64, offset int) *permutation {
	r := rand.New(rand.NewPCG(uint64(seed), 0))
	if construction != PermutedPadded {
		perm := r.Perm(in.Size())
		p := &permutation{gather: make([]int32, len(perm)), shape: in, offset: offset}
		for i, v := range perm {
			p.gather[i] = int32(v)
		}
		return p
	}
	out := Shape{C: in.C, H: max(in.H, paddedSide), W: max(in.W, paddedSide)}
	top, left := (out.H-in.H)/2, (out.W-in.W)/2
	plane, inPlane := out.H*out.W, in.H*in.W
	// source is where position q of the padded plane comes from in the
	// dataset's plane, or -1 in the border.
	source := func(q int) int32 {
		y, x := q/out.W-top, q%out.W-left
		if y < 0 || y >= in.H || x < 0 || x >= in.W {
			return -1
		}
		return int32(y*in.W + x)
	}
	perm := r.Perm(plane)
	p := &permutation{gather: make([]int32, out.Size()), shape: out, offset: offset}
	for c := range out.C {
		for i, q := range perm {
			g := source(q)
			if g >= 0 {
				g += int32(c * inPlane)
			}
			p.gather[c*plane+i] = g
		}
	}
	return p
}

// row makes one example into dst (len(p.gather) values) from the dataset's
// example src.
func (p *permutation) row(dst, src []float32) {
	for i, g := range p.gather {
		var v float32
		if g >= 0 {
			v = src[g]
		}
		dst[i] = v
	}
	if p.mean == nil {
		return
	}
	plane := p.shape.H * p.shape.W
	for i, v := range dst {
		ch := i / plane
		dst[i] = float32((float64(v) - p.mean[ch]) / p.std[ch])
	}
}

// apply makes examples lo to hi (hi excluded) of the dataset's set s, in a
// new Set.
func (p *permutation) apply(s Set, lo, hi int) Set {
	d := len(p.gather)
	out := Set{X: make([]float32, (hi-lo)*d), Y: make([]int, hi-lo), Shape: p.shape}
	for r := range hi - lo {
		p.row(out.X[r*d:(r+1)*d], s.Row(lo+r))
		out.Y[r] = s.Y[lo+r] + p.offset
	}
	return out
}

// permutedStream fills s with cfg.Tasks permuted tasks of ds (see
// NewStream): one seed per task drawn from cfg.Seed and recorded, task k's
// labels moved up by k·NumClasses.
func permutedStream(ds Dataset, cfg StreamConfig, s Stream) Stream {
	construction := cfg.Permuted
	if construction == "" {
		construction = PermutedPlain
	}
	s.Name = "permuted-" + ds.Name
	s.NumClasses = ds.NumClasses * cfg.Tasks
	s.Choices.Permuted = construction
	seeds := rand.New(rand.NewPCG(cfg.Seed, 0x9e43_7e5e))
	for k := range cfg.Tasks {
		ps := seeds.Int64()
		s.Choices.Permutation = append(s.Choices.Permutation, ps)
		p := newPermutation(ds.Train.Shape, construction, ps, k*ds.NumClasses)
		s.Shape = p.shape
		s.Tasks = append(s.Tasks, Task{
			ID:      k + 1,
			Classes: seq(k*ds.NumClasses, (k+1)*ds.NumClasses),
			Train:   Examples{set: ds.Train, perm: p},
			Test:    Examples{set: ds.Test, perm: p},
		})
	}
	return s
}
