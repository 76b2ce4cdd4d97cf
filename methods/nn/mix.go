package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// SoftmaxMix is the output stage û = softmax(mask(logits))·W: a convex
// combination of the rows of an m×d matrix W, weighted by a softmax over
// the m logits. It is the end of every NoProp block (paper §2.3.2, with W
// the class embeddings W_Embed), where û lives in the embedding space.
//
// The softmax may be restricted to a set of active outputs: the others get
// probability 0 and no gradient, whatever their logits.
//
// The zero value with W (or Identity) set is ready to use; buffers are
// reused across calls.
type SoftmaxMix struct {
	// W is the m×d matrix whose rows are mixed, row-major; d is
	// len(W.Value)/m. Unused when Identity is set.
	W *Param
	// Identity makes W the m×m identity (NoProp's one-hot embedding): û is
	// the softmax itself and the products are skipped.
	Identity bool

	p, u, dp, dl Matrix
	pt, ut       Matrix // tangents of p and u
	jvp          softmaxJVPPass
}

// weights views W as an m×d Matrix.
func (o *SoftmaxMix) weights(m int) Matrix {
	if o.W == nil || m == 0 || len(o.W.Value)%m != 0 {
		n := -1
		if o.W != nil {
			n = len(o.W.Value)
		}
		panic(fmt.Sprintf("nn: SoftmaxMix: W (%d values) is not an m×d matrix for m = %d outputs", n, m))
	}
	return Matrix{Rows: m, Cols: len(o.W.Value) / m, Data: o.W.Value}
}

// Forward returns û for logits (rows × m): rows × d, or the rows × m
// softmax with Identity, owned by o. mask, when non-nil, has m entries and
// marks the outputs that take part in the softmax; at least one must be set.
func (o *SoftmaxMix) Forward(logits Matrix, mask []bool) Matrix {
	o.p = Resize(o.p, logits.Rows, logits.Cols)
	rowsKernel(o.p, logits, mask, false, "SoftmaxMix")
	if o.Identity {
		return o.p
	}
	w := o.weights(logits.Cols)
	o.u = Resize(o.u, logits.Rows, w.Cols)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, o.p.General(), w.General(), 0, o.u.General())
	return o.u
}

// Probs is the softmax of the last Forward (rows × m, owned by o).
func (o *SoftmaxMix) Probs() Matrix { return o.p }

// Backward returns dL/dlogits for dL/dû = du after the last Forward. When
// wGrad is non-nil (m·d values, e.g. W.Grad or a buffer of the caller's)
// and W is used, pᵀ·du, the gradient with respect to W, is added into it.
func (o *SoftmaxMix) Backward(du Matrix, wGrad []float32) Matrix {
	dp := du
	if !o.Identity {
		w := o.weights(o.p.Cols)
		o.dp = Resize(o.dp, du.Rows, w.Rows)
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, du.General(), w.General(), 0, o.dp.General())
		dp = o.dp
		if wGrad != nil {
			g := Matrix{Rows: w.Rows, Cols: w.Cols, Data: wGrad}
			blas32.Gemm(blas.Trans, blas.NoTrans, 1, o.p.General(), du.General(), 1, g.General())
		}
	}
	// Masked outputs have p = 0 and get no gradient.
	o.dl = Resize(o.dl, du.Rows, o.p.Cols)
	o.jvp.run(o.dl, o.p, dp)
	return o.dl
}

// ForwardTangent returns Forward(logits, mask) and its tangent
// u̇ = ṗ·W + p·Ẇ, with ṗ = p ⊙ (l̇ − ⟨l̇, p⟩) for the logits' tangent
// dlogits (empty: zero) and Ẇ = W.Tangent (unused with Identity). The
// tangent is empty when both are zero.
func (o *SoftmaxMix) ForwardTangent(logits, dlogits Matrix, mask []bool) (Matrix, Matrix) {
	u := o.Forward(logits, mask)
	hasL := hasTangent("SoftmaxMix", logits, dlogits)
	var wt []float32
	if !o.Identity {
		wt = o.W.tangent()
	}
	if !hasL && wt == nil {
		return u, Matrix{}
	}
	if hasL {
		o.pt = Resize(o.pt, logits.Rows, logits.Cols)
		o.jvp.run(o.pt, o.p, dlogits)
		if o.Identity {
			return u, o.pt
		}
	}
	w := o.weights(logits.Cols)
	o.ut = Resize(o.ut, logits.Rows, w.Cols)
	beta := float32(0)
	if hasL {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, o.pt.General(), w.General(), 0, o.ut.General())
		beta = 1
	}
	if wt != nil {
		wDot := Matrix{Rows: w.Rows, Cols: w.Cols, Data: wt}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, o.p.General(), wDot.General(), beta, o.ut.General())
	}
	return u, o.ut
}

// Share returns a twin that mixes the same W with buffers of its own (see
// Sharer).
func (o *SoftmaxMix) Share() *SoftmaxMix { return &SoftmaxMix{W: o.W, Identity: o.Identity} }
