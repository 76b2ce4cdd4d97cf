package noprop

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// The kinds of class embedding W_Embed (docs/methods.md §4; paper §2.2.1).
const (
	// EmbedOneHot is the fixed identity, W_Embed = I_m, d = m.
	EmbedOneHot = "one-hot"
	// EmbedLearned is a learned m×d matrix (the paper's "dim=20"),
	// orthogonal at initialisation when m ≤ d.
	EmbedLearned = "learned"
	// EmbedPrototype is a learned m×d matrix with d = the image size,
	// initialised per class, when the class first becomes active, to a
	// medoid-like training image of it (see Embedding.Meet).
	EmbedPrototype = "prototype"
)

// Embedding is the class embedding matrix W_Embed ∈ R^{m×d}; u_y is row y.
//
// W is an nn.Param so that a learned embedding is trained by the same
// optimizer as the network. Its gradient collects the L2 target term
// (−u_y), the pathwise gradient through the sampled z_{t−1} and z_T (both
// √ᾱ·u_y + noise), the KL term (ᾱ_0 u_y), and every block's output
// softmax(logits)·W_Embed. A fixed embedding (one-hot) is never handed to the
// optimizer and its gradient is never filled.
type Embedding struct {
	Kind string
	M, D int
	W    *nn.Param // m×d, row-major: row y is u_y

	// Prototype embeddings only: the seeded subset size and random stream
	// of the prototype search, and which classes' rows have been set.
	subset int
	rng    *nn.RNG
	met    []bool
}

// Learned reports whether W_Embed is trained.
func (e *Embedding) Learned() bool { return e.Kind != EmbedOneHot }

// Row returns u_y; the slice aliases W.
func (e *Embedding) Row(y int) []float32 { return e.W.Value[y*e.D : (y+1)*e.D] }

// Matrix views W_Embed as an m×d Matrix aliasing the parameter.
func (e *Embedding) Matrix() nn.Matrix { return nn.Matrix{Rows: e.M, Cols: e.D, Data: e.W.Value} }

// GradMatrix views the gradient of W_Embed as an m×d Matrix.
func (e *Embedding) GradMatrix() nn.Matrix { return nn.Matrix{Rows: e.M, Cols: e.D, Data: e.W.Grad} }

// NewOneHot returns the fixed identity embedding of m classes (d = m).
func NewOneHot(m int) *Embedding {
	e := &Embedding{Kind: EmbedOneHot, M: m, D: m, W: nn.NewParam("embed", true, m, m)}
	for i := range m {
		e.W.Value[i*m+i] = 1
	}
	return e
}

// NewLearnedEmbedding returns a learned m×d embedding. When m ≤ d its rows
// are orthonormal (the paper's "orthogonal when possible"), drawn like
// torch.nn.init.orthogonal_. Otherwise (e.g. CIFAR-100 with d = 20) the
// paper says only "random": we draw N(0, 1/d) entries, so that E‖u_y‖² = 1
// as for the one-hot and orthogonal rows, keeping the SNR weights and the KL
// term on the same scale whatever the initialisation.
//
// W_Embed is subject to weight decay, as it would be as one parameter among
// all of the model's in a single PyTorch AdamW.
func NewLearnedEmbedding(m, d int, rng *nn.RNG) *Embedding {
	e := &Embedding{Kind: EmbedLearned, M: m, D: d, W: nn.NewParam("embed", false, m, d)}
	if m <= d {
		nn.InitOrthogonal.FillWeights(e.W.Value, m, d, rng)
	} else {
		rng.FillNormal(e.W.Value, float32(1/math.Sqrt(float64(d))))
	}
	return e
}

// NewPrototypeEmbedding returns a learned m×d embedding with d = the image
// size whose rows are set class by class by Meet: a row is zero until its
// class first becomes active. The search for each class's prototype looks at
// a random subset of at most maxPerClass of its images, drawn from rng.
func NewPrototypeEmbedding(m, d, maxPerClass int, rng *nn.RNG) *Embedding {
	return &Embedding{Kind: EmbedPrototype, M: m, D: d, W: nn.NewParam("embed", false, m, d),
		subset: maxPerClass, rng: rng, met: make([]bool, m)}
}

// Meet sets the prototype row of every active class not met before, from
// that class's images in data: the image with the smallest median Euclidean
// distance to the other images of the class (paper §2.2.1). So a class's
// prototype comes from the task that brings it, never from a later one; in
// domain-IL, where an output is "the first class of the task" of every task,
// it comes from the first task. Other kinds of embedding ignore Meet.
//
// The exact medoid costs O(n²) distances per class, so it is computed on a
// random subset of at most the embedding's subset size of the class's
// images (the whole class when it is smaller), drawn from the embedding's
// stream split by class: the choice depends only on the data, the class and
// the seed. Ties go to the lower index in data. An active class without an
// image in data is an error.
func (e *Embedding) Meet(data tasks.Set, active []int) error {
	if e.Kind != EmbedPrototype {
		return nil
	}
	if data.Shape.Size() != e.D {
		return fmt.Errorf("prototype embedding: images of %d values for an embedding of dimension %d", data.Shape.Size(), e.D)
	}
	byClass := map[int][]int{}
	for i, y := range data.Y {
		if y >= 0 && y < e.M && !e.met[y] {
			byClass[y] = append(byClass[y], i)
		}
	}
	for _, y := range active {
		if e.met[y] {
			continue
		}
		idx := byClass[y]
		if len(idx) == 0 {
			return fmt.Errorf("prototype embedding: class %d becomes active without a training image", y)
		}
		crng := e.rng.Split(fmt.Sprintf("class/%d", y))
		if len(idx) > e.subset {
			perm := crng.Perm(len(idx))[:e.subset]
			slices.Sort(perm)
			sub := make([]int, e.subset)
			for k, p := range perm {
				sub[k] = idx[p]
			}
			idx = sub
		}
		copy(e.Row(y), data.Row(medoidLike(data, idx)))
		e.met[y] = true
	}
	return nil
}

// medoidLike returns the index (into data) of the example among idx whose
// median Euclidean distance to the other examples of idx is smallest.
func medoidLike(data tasks.Set, idx []int) int {
	n, d := len(idx), data.Shape.Size()
	if n <= 2 {
		return idx[0] // with two images both medians are equal
	}
	x := nn.NewMatrix(n, d)
	for k, i := range idx {
		copy(x.Row(k), data.Row(i))
	}
	// Gram matrix g = x·xᵀ; ‖a−b‖² = ‖a‖² + ‖b‖² − 2a·b.
	g := nn.NewMatrix(n, n)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, x.General(), x.General(), 0, g.General())
	dist := make([]float64, n-1)
	bestK, bestMed := 0, math.Inf(1)
	for a := range n {
		dist = dist[:0]
		for b := range n {
			if b == a {
				continue
			}
			sq := float64(g.Data[a*n+a]) + float64(g.Data[b*n+b]) - 2*float64(g.Data[a*n+b])
			dist = append(dist, math.Sqrt(max(sq, 0)))
		}
		slices.Sort(dist)
		med := dist[len(dist)/2]
		if len(dist)%2 == 0 {
			med = 0.5 * (dist[len(dist)/2-1] + med)
		}
		if med < bestMed {
			bestK, bestMed = a, med
		}
	}
	return idx[bestK]
}

// networkWeights estimates, from above, the weights of blocks networks of
// this shape for problem p (an image path, a label path, the fusion; a
// second conv path for prototype embeddings), for methods.CheckWeights.
func (n Network) networkWeights(p methods.Problem, blocks int) int64 {
	h, m := int64(n.Hidden), int64(p.Outputs)
	img := int64(p.Input.Size())
	if n.Encoder == EncoderConv {
		img = 3200 + 32*27 + 64*288 + 128*576 // the largest flat size of the conv stack, and its kernels
	}
	d := m
	switch n.Embedding {
	case EmbedLearned:
		d = int64(n.EmbedDim)
	case EmbedPrototype:
		d = img
	}
	per := img*h + d*h + 5*h*h + h*m + d*m
	return int64(blocks) * per
}

// problemEmbedding checks that problem p suits the network and builds the
// class embedding every rule of the family starts from.
func problemEmbedding(p methods.Problem, a Network, root *nn.RNG) (*Embedding, error) {
	if p.Outputs < 1 {
		return nil, fmt.Errorf("%d outputs, need at least 1", p.Outputs)
	}
	if p.Input.Size() < 1 {
		return nil, fmt.Errorf("empty input shape %v", p.Input)
	}
	if err := methods.CheckWeights(a.networkWeights(p, 1)); err != nil {
		return nil, err
	}
	if a.Encoder == EncoderConv && (p.Input.H < minConvSize || p.Input.W < minConvSize) {
		return nil, methods.Invalid("encoder", a.Encoder, "the conv stack needs images of at least %d×%d, got %v (use \"mlp\")",
			minConvSize, minConvSize, p.Input)
	}
	switch a.Embedding {
	case EmbedLearned:
		return NewLearnedEmbedding(p.Outputs, a.EmbedDim, root.Split("embed")), nil
	case EmbedPrototype:
		return NewPrototypeEmbedding(p.Outputs, p.Input.Size(), a.PrototypeSubset, root.Split("embed")), nil
	}
	return NewOneHot(p.Outputs), nil
}

// VisitState visits W_Embed and which prototype rows are set.
func (e *Embedding) VisitState(v nn.StateVisitor, name string) {
	v.Floats(name, e.W.Value)
	if e.met != nil {
		v.Bools(name+"/met", e.met)
	}
}
