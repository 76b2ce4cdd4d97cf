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

// The kinds of class embedding W_Embed (noprop.md §2.5; paper §2.2.1).
const (
	// EmbedOneHot is the fixed identity, W_Embed = I_m, d = m.
	EmbedOneHot = "one-hot"
	// EmbedLearned is a learned m×d matrix (the paper's "dim=20"),
	// orthogonal at initialisation when m ≤ d.
	EmbedLearned = "learned"
	// EmbedPrototype is a learned m×d matrix with d = the image size,
	// initialised per class to a medoid-like training image.
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
// size, initialised per class y to the training image of class y with the
// smallest median Euclidean distance to the other images of that class
// (paper §2.2.1).
//
// The exact medoid costs O(n²) distances per class, so it is computed on a
// random subset of at most maxPerClass images of each class (the whole class
// when it is smaller), drawn from rng: the choice depends only on the data
// and the seed. Ties go to the lower index in data. Every class 0..m−1 must
// have at least one training image; labels outside [0, m) are an error.
func NewPrototypeEmbedding(m int, data tasks.Set, maxPerClass int, rng *nn.RNG) (*Embedding, error) {
	d := data.Shape.Size()
	if data.Len() == 0 || d == 0 {
		return nil, fmt.Errorf("prototype embedding: no training data to pick prototypes from")
	}
	if len(data.X) != data.Len()*d {
		return nil, fmt.Errorf("prototype embedding: %d values for %d examples of shape %v", len(data.X), data.Len(), data.Shape)
	}
	if maxPerClass < 1 {
		return nil, fmt.Errorf("prototype embedding: subset size %d must be at least 1", maxPerClass)
	}
	byClass := make([][]int, m)
	for i, y := range data.Y {
		if y < 0 || y >= m {
			return nil, fmt.Errorf("prototype embedding: example %d has label %d outside [0, %d)", i, y, m)
		}
		byClass[y] = append(byClass[y], i)
	}
	e := &Embedding{Kind: EmbedPrototype, M: m, D: d, W: nn.NewParam("embed", false, m, d)}
	for y, idx := range byClass {
		if len(idx) == 0 {
			return nil, fmt.Errorf("prototype embedding: class %d has no training example", y)
		}
		crng := rng.Split(fmt.Sprintf("class/%d", y))
		if len(idx) > maxPerClass {
			perm := crng.Perm(len(idx))[:maxPerClass]
			slices.Sort(perm)
			sub := make([]int, maxPerClass)
			for k, p := range perm {
				sub[k] = idx[p]
			}
			idx = sub
		}
		best := medoidLike(data, idx)
		copy(e.Row(y), data.Row(best))
	}
	return e, nil
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

// problemEmbedding checks that problem p suits the encoder and builds the
// class embedding both NoProp-DT and backprop-dt start from; method names the
// caller in errors.
func problemEmbedding(method string, p methods.Problem, encoder, kind string, dim, subset int, root *nn.RNG) (*Embedding, error) {
	if p.Outputs < 1 {
		return nil, fmt.Errorf("%s: %d outputs, need at least 1", method, p.Outputs)
	}
	if p.Input.Size() < 1 {
		return nil, fmt.Errorf("%s: empty input shape %v", method, p.Input)
	}
	if encoder == EncoderConv && (p.Input.H < minConvSize || p.Input.W < minConvSize) {
		return nil, fmt.Errorf("%s: encoder: the conv stack needs images of at least %d×%d, got %v (use \"mlp\")",
			method, minConvSize, minConvSize, p.Input)
	}
	switch kind {
	case EmbedLearned:
		return NewLearnedEmbedding(p.Outputs, dim, root.Split("embed")), nil
	case EmbedPrototype:
		if p.Train == nil {
			return nil, fmt.Errorf("%s: prototype embedding needs the training data", method)
		}
		train := p.Train()
		if train.Shape.Size() != p.Input.Size() {
			return nil, fmt.Errorf("%s: prototype embedding: training data of shape %v for input %v", method, train.Shape, p.Input)
		}
		e, err := NewPrototypeEmbedding(p.Outputs, train, subset, root.Split("embed"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		return e, nil
	}
	return NewOneHot(p.Outputs), nil
}
