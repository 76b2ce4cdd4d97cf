package nn

import (
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// LinearMix is the output stage û = logits·W: a combination of the rows of
// an m×d matrix W weighted by the m logits themselves, without a softmax, so
// the weights are unrestricted. It ends NoProp-FM's network, whose vector
// field v̂ = logits·W_Embed lives in the embedding space (paper §2.3.2),
// where SoftmaxMix ends the diffusion variants' networks.
//
// The zero value with W (or Identity) set is ready to use; buffers are
// reused across calls.
type LinearMix struct {
	// W is the m×d matrix whose rows are combined, row-major; d is
	// len(W.Value)/m. Unused when Identity is set.
	W *Param
	// Identity makes W the m×m identity (NoProp's one-hot embedding): û is
	// the logits themselves, passed through.
	Identity bool

	logits   Matrix // last Forward's input (aliased)
	u, dl, t Matrix // owned buffers (t: the tangent)
}

// weights views W as an m×d Matrix; it panics if W is not one.
func (o *LinearMix) weights(m int) Matrix {
	if o.W == nil || m == 0 || len(o.W.Value)%m != 0 {
		panic(fmt.Sprintf("nn: LinearMix: W is not an m×d matrix for m = %d logits", m))
	}
	return Matrix{Rows: m, Cols: len(o.W.Value) / m, Data: o.W.Value}
}

// Forward returns û = logits·W (rows × d), owned by o; with Identity, the
// logits themselves. logits must stay unchanged until Backward.
func (o *LinearMix) Forward(logits Matrix) Matrix {
	o.logits = logits
	if o.Identity {
		return logits
	}
	w := o.weights(logits.Cols)
	o.u = Resize(o.u, logits.Rows, w.Cols)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, logits.General(), w.General(), 0, o.u.General())
	return o.u
}

// Backward returns dL/dlogits = du·Wᵀ for dL/dû = du after the last Forward
// (du itself with Identity). When wGrad is non-nil (m·d values, e.g. W.Grad
// or a buffer of the caller's) and W is used, logitsᵀ·du, the gradient with
// respect to W, is added into it.
func (o *LinearMix) Backward(du Matrix, wGrad []float32) Matrix {
	if o.Identity {
		return du
	}
	w := o.weights(o.logits.Cols)
	o.dl = Resize(o.dl, du.Rows, w.Rows)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, du.General(), w.General(), 0, o.dl.General())
	if wGrad != nil {
		g := Matrix{Rows: w.Rows, Cols: w.Cols, Data: wGrad}
		blas32.Gemm(blas.Trans, blas.NoTrans, 1, o.logits.General(), du.General(), 1, g.General())
	}
	return o.dl
}

// ForwardTangent returns Forward(logits) and its tangent u̇ = l̇·W + l·Ẇ for
// the logits' tangent dlogits (empty: zero) and Ẇ = W.Tangent (unused with
// Identity, where the tangent is dlogits itself). The tangent is empty when
// both are zero.
func (o *LinearMix) ForwardTangent(logits, dlogits Matrix) (Matrix, Matrix) {
	u := o.Forward(logits)
	hasL := hasTangent("LinearMix", logits, dlogits)
	if o.Identity {
		return u, dlogits
	}
	wt := o.W.tangent()
	if !hasL && wt == nil {
		return u, Matrix{}
	}
	w := o.weights(logits.Cols)
	o.t = Resize(o.t, logits.Rows, w.Cols)
	beta := float32(0)
	if hasL {
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, dlogits.General(), w.General(), 0, o.t.General())
		beta = 1
	}
	if wt != nil {
		wDot := Matrix{Rows: w.Rows, Cols: w.Cols, Data: wt}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, logits.General(), wDot.General(), beta, o.t.General())
	}
	return u, o.t
}

// Share returns a twin that combines the same W with buffers of its own
// (see Sharer).
func (o *LinearMix) Share() *LinearMix { return &LinearMix{W: o.W, Identity: o.Identity} }
