package noprop

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn"
)

// Head is the class-probability head p̂_θout(y | z_T), a linear layer d → m
// trained jointly with the blocks through the CE term of Eq. 8. It gives
// class logits, whose softmax over the active classes is p̂_θout:
//
//   - "softmax" (Eq. 14, the paper's default): logits = f_θout(z_T).
//   - "posterior" (Eq. 15–16): ỹ = softmax(f_θout(z_T))·W_Embed and
//     logit_y = −‖ỹ − u_y‖²/(2σ²).
//
// The head "helps prevent the class embeddings from collapsing" (paper
// §2.3.2): its CE gradient reaches a learned W_Embed through z_T ~ q(z_T|y).
type Head struct {
	Kind  string
	Lin   *nn.Linear // f_θout, d → m
	Embed *Embedding
	Sigma float64 // σ of the posterior head

	out            EmbedOutput // ỹ for the posterior head
	ytil           nn.Matrix   // ỹ of the last Forward (aliases out's buffers)
	logits, gram   nn.Matrix
	dy, colSum     nn.Matrix
	rowSum, normSq []float64
}

// NewHead returns a head of the given kind for embedding e, its weights drawn
// from rng. It computes the gradient with respect to z_T only when e is
// learned (otherwise nothing upstream needs it).
func NewHead(kind string, e *Embedding, sigma float64, init nn.Init, rng *nn.RNG) *Head {
	if kind != HeadSoftmax && kind != HeadPosterior {
		panic(fmt.Sprintf("noprop: unknown head %q", kind))
	}
	lin := nn.NewLinear(e.D, e.M, init, rng)
	lin.NoInputGrad = !e.Learned()
	return &Head{Kind: kind, Lin: lin, Embed: e, Sigma: sigma, out: EmbedOutput{Embed: e}}
}

// Params returns θ_out.
func (h *Head) Params() []*nn.Param { return h.Lin.Params() }

// Forward returns the class logits for z (rows × m), owned by the head. mask
// (nil for all) restricts the posterior head's inner softmax to the active
// classes; the caller restricts the final softmax.
func (h *Head) Forward(z nn.Matrix, mask []bool, train bool) nn.Matrix {
	lg := h.Lin.Forward(z, train)
	if h.Kind == HeadSoftmax {
		return lg
	}
	e := h.Embed
	h.ytil = h.out.Forward(lg, mask)
	n := z.Rows
	h.gram = nn.Resize(h.gram, n, e.M)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, h.ytil.General(), e.Matrix().General(), 0, h.gram.General())
	if cap(h.normSq) < e.M {
		h.normSq = make([]float64, e.M)
	}
	h.normSq = h.normSq[:e.M]
	for y := range e.M {
		h.normSq[y] = sumSq(e.Row(y))
	}
	h.logits = nn.Resize(h.logits, n, e.M)
	inv := 1 / (2 * h.Sigma * h.Sigma)
	for i := range n {
		yn := sumSq(h.ytil.Row(i))
		g, l := h.gram.Row(i), h.logits.Row(i)
		for y := range l {
			l[y] = float32(-(yn - 2*float64(g[y]) + h.normSq[y]) * inv)
		}
	}
	return h.logits
}

// Backward takes dL/dlogits of the last Forward, adds θ_out's gradients into
// its Params, adds the gradient with respect to W_Embed into embGrad (m×d;
// nil to skip) and returns dL/dz (empty when the embedding is fixed).
func (h *Head) Backward(dl nn.Matrix, embGrad []float32) nn.Matrix {
	if h.Kind == HeadSoftmax {
		return h.Lin.Backward(dl)
	}
	e := h.Embed
	n := dl.Rows
	s := float32(1 / (h.Sigma * h.Sigma))
	// dỹ_i = (1/σ²)(Σ_y g_iy u_y − (Σ_y g_iy) ỹ_i).
	h.dy = nn.Resize(h.dy, n, e.D)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, s, dl.General(), e.Matrix().General(), 0, h.dy.General())
	if cap(h.rowSum) < max(n, e.M) {
		h.rowSum = make([]float64, max(n, e.M))
	}
	for i := range n {
		rs := 0.0
		for _, g := range dl.Row(i) {
			rs += float64(g)
		}
		c := s * float32(rs)
		d, yt := h.dy.Row(i), h.ytil.Row(i)
		for j := range d {
			d[j] -= c * yt[j]
		}
	}
	if embGrad != nil && e.Learned() {
		// dW_y += (1/σ²)(Σ_i g_iy ỹ_i − (Σ_i g_iy) u_y).
		g := blas32.General{Rows: e.M, Cols: e.D, Stride: e.D, Data: embGrad}
		blas32.Gemm(blas.Trans, blas.NoTrans, s, dl.General(), h.ytil.General(), 1, g)
		cs := h.rowSum[:e.M]
		clear(cs)
		for i := range n {
			for y, v := range dl.Row(i) {
				cs[y] += float64(v)
			}
		}
		for y := range e.M {
			c := s * float32(cs[y])
			row, u := embGrad[y*e.D:(y+1)*e.D], e.Row(y)
			for j := range row {
				row[j] -= c * u[j]
			}
		}
	}
	dlg := h.out.Backward(h.dy, embGrad)
	return h.Lin.Backward(dlg)
}

func sumSq(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}
