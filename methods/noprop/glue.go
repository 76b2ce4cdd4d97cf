package noprop

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn"
)

// This file holds the glue the block needs beyond a chain of nn layers: a
// two-input concatenation, a residual add, and the output stage
// û = softmax(logits)·W_Embed.

// Concat2 runs two layers on two inputs and joins their outputs column-wise:
// y = [A(xa) | B(xb)]. It is the "concat (512)" of the block, whose two
// branches see different inputs (the image x and the noised label z).
type Concat2 struct {
	A, B nn.Layer

	y, da, db nn.Matrix
	na        int // columns of A's last output
}

// Forward returns [A(xa) | B(xb)] in a buffer owned by c.
func (c *Concat2) Forward(xa, xb nn.Matrix, train bool) nn.Matrix {
	ya := c.A.Forward(xa, train)
	yb := c.B.Forward(xb, train)
	if ya.Rows != yb.Rows {
		panic(fmt.Sprintf("noprop: Concat2: branches give %d and %d rows", ya.Rows, yb.Rows))
	}
	c.na = ya.Cols
	c.y = nn.Resize(c.y, ya.Rows, ya.Cols+yb.Cols)
	for i := range ya.Rows {
		row := c.y.Row(i)
		copy(row[:ya.Cols], ya.Row(i))
		copy(row[ya.Cols:], yb.Row(i))
	}
	return c.y
}

// Backward splits dy into its two column blocks, runs each branch's
// Backward and returns the gradients with respect to xa and xb (either may be
// empty when the branch skips its input gradient).
func (c *Concat2) Backward(dy nn.Matrix) (dxa, dxb nn.Matrix) {
	nb := dy.Cols - c.na
	c.da = nn.Resize(c.da, dy.Rows, c.na)
	c.db = nn.Resize(c.db, dy.Rows, nb)
	for i := range dy.Rows {
		row := dy.Row(i)
		copy(c.da.Row(i), row[:c.na])
		copy(c.db.Row(i), row[c.na:])
	}
	dxa = c.A.Backward(c.da)
	dxb = c.B.Backward(c.db)
	return dxa, dxb
}

// Params lists A's parameters, then B's.
func (c *Concat2) Params() []*nn.Param {
	return append(append([]*nn.Param(nil), c.A.Params()...), c.B.Params()...)
}

// Residual is y = Inner(x) + x, the "+ h" of the block's label path. It is an
// nn.Layer.
type Residual struct {
	Inner nn.Layer

	y, dx nn.Matrix
}

// Forward returns Inner(x) + x in a buffer owned by r. x must stay unchanged
// until Backward (Inner may keep a reference to it).
func (r *Residual) Forward(x nn.Matrix, train bool) nn.Matrix {
	f := r.Inner.Forward(x, train)
	if f.Rows != x.Rows || f.Cols != x.Cols {
		panic(fmt.Sprintf("noprop: Residual: inner maps %d×%d to %d×%d", x.Rows, x.Cols, f.Rows, f.Cols))
	}
	r.y = nn.Resize(r.y, x.Rows, x.Cols)
	for i, v := range f.Data {
		r.y.Data[i] = v + x.Data[i]
	}
	return r.y
}

// Backward returns Inner.Backward(dy) + dy.
func (r *Residual) Backward(dy nn.Matrix) nn.Matrix {
	g := r.Inner.Backward(dy)
	r.dx = nn.Resize(r.dx, dy.Rows, dy.Cols)
	for i, v := range g.Data {
		r.dx.Data[i] = v + dy.Data[i]
	}
	return r.dx
}

// Params returns Inner's parameters.
func (r *Residual) Params() []*nn.Param { return r.Inner.Params() }

var negInf = math.Inf(-1)

// EmbedOutput is the block's output stage û = softmax(logits)·W_Embed
// (paper §2.3.2): a convex combination of class embeddings. The softmax may be
// restricted to a set of active outputs (the others get probability 0).
// For the one-hot embedding W_Embed = I and û is the softmax itself.
type EmbedOutput struct {
	Embed *Embedding

	p, u, dp, dl nn.Matrix
}

// Forward returns û for logits (rows × m). mask, when non-nil, marks the
// outputs that take part in the softmax; at least one must be set.
func (o *EmbedOutput) Forward(logits nn.Matrix, mask []bool) nn.Matrix {
	o.p = nn.Resize(o.p, logits.Rows, logits.Cols)
	copy(o.p.Data, logits.Data)
	if mask != nil {
		ninf := float32(negInf)
		for i := range o.p.Rows {
			row := o.p.Row(i)
			for j, on := range mask {
				if !on {
					row[j] = ninf
				}
			}
		}
	}
	nn.SoftmaxRows(o.p, o.p)
	if o.Embed.Kind == EmbedOneHot {
		return o.p
	}
	o.u = nn.Resize(o.u, logits.Rows, o.Embed.D)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, o.p.General(), o.Embed.Matrix().General(), 0, o.u.General())
	return o.u
}

// Probs is the softmax of the last Forward (rows × m, owned by o).
func (o *EmbedOutput) Probs() nn.Matrix { return o.p }

// Backward returns dL/dlogits for dL/dû = du. When embGrad is non-nil (an
// m×d matrix) and the embedding is learned, pᵀ·du is added into it: the
// gradient of û with respect to W_Embed.
func (o *EmbedOutput) Backward(du nn.Matrix, embGrad []float32) nn.Matrix {
	dp := du
	if o.Embed.Kind != EmbedOneHot {
		o.dp = nn.Resize(o.dp, du.Rows, o.Embed.M)
		blas32.Gemm(blas.NoTrans, blas.Trans, 1, du.General(), o.Embed.Matrix().General(), 0, o.dp.General())
		dp = o.dp
		if embGrad != nil {
			g := blas32.General{Rows: o.Embed.M, Cols: o.Embed.D, Stride: o.Embed.D, Data: embGrad}
			blas32.Gemm(blas.Trans, blas.NoTrans, 1, o.p.General(), du.General(), 1, g)
		}
	}
	// Softmax Jacobian: dl_j = p_j (dp_j − Σ_k p_k dp_k). Masked outputs
	// have p_j = 0 and get no gradient.
	o.dl = nn.Resize(o.dl, du.Rows, o.p.Cols)
	for i := range o.p.Rows {
		p, g, d := o.p.Row(i), dp.Row(i), o.dl.Row(i)
		s := 0.0
		for j, v := range p {
			s += float64(v) * float64(g[j])
		}
		sf := float32(s)
		for j, v := range p {
			d[j] = v * (g[j] - sf)
		}
	}
	return o.dl
}
