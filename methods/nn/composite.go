package nn

import "fmt"

// Concat2 runs two layers on two inputs and joins their outputs column-wise:
// y = [A(xa) | B(xb)]. It fuses two branches that see different inputs
// (NoProp's block joins an image path and a label path); three paths, as in
// NoProp's continuous-time network, nest two.
type Concat2 struct {
	A, B Layer

	y, t, da, db Matrix // t: the tangent
	na           int    // columns of A's last output
}

// Forward returns [A(xa) | B(xb)] in a buffer owned by c.
func (c *Concat2) Forward(xa, xb Matrix, train bool) Matrix {
	ya := c.A.Forward(xa, train)
	yb := c.B.Forward(xb, train)
	c.y = c.join(c.y, ya, yb, ya, yb)
	return c.y
}

// ForwardB is Forward with A's output ya given: A's work done once for
// several calls whose xb differ (evaluation of chains that share an
// image). ya must have been computed by A on the same input.
func (c *Concat2) ForwardB(ya, xb Matrix, train bool) Matrix {
	yb := c.B.Forward(xb, train)
	c.y = c.join(c.y, ya, yb, ya, yb)
	return c.y
}

// join sets buf (resized) to [a | b] for the branch outputs ya and yb,
// which fix the shape; a and b are ya and yb or their tangents, where an
// empty one stands for zeros. It records A's width for Backward.
func (c *Concat2) join(buf, a, b, ya, yb Matrix) Matrix {
	if ya.Rows != yb.Rows {
		panic(fmt.Sprintf("nn: Concat2: branches give %d and %d rows", ya.Rows, yb.Rows))
	}
	na := ya.Cols
	c.na = na
	buf = Resize(buf, ya.Rows, na+yb.Cols)
	for i := range ya.Rows {
		row := buf.Row(i)
		if len(a.Data) == 0 {
			clear(row[:na])
		} else {
			copy(row[:na], a.Row(i))
		}
		if len(b.Data) == 0 {
			clear(row[na:])
		} else {
			copy(row[na:], b.Row(i))
		}
	}
	return buf
}

// Backward splits dy into its two column blocks, runs each branch's
// Backward and returns the gradients with respect to xa and xb (either may be
// empty when the branch skips its input gradient).
func (c *Concat2) Backward(dy Matrix) (dxa, dxb Matrix) {
	nb := dy.Cols - c.na
	c.da = Resize(c.da, dy.Rows, c.na)
	c.db = Resize(c.db, dy.Rows, nb)
	for i := range dy.Rows {
		row := dy.Row(i)
		copy(c.da.Row(i), row[:c.na])
		copy(c.db.Row(i), row[c.na:])
	}
	dxa = c.A.Backward(c.da)
	dxb = c.B.Backward(c.db)
	return dxa, dxb
}

// ForwardTangent returns Forward(xa, xb) and its tangent [Ȧ | Ḃ], each
// branch's tangent for its input tangent (dxa, dxb; empty for zero) and
// its parameter tangents (see TangentLayer). The tangent is empty when
// both branches' are.
func (c *Concat2) ForwardTangent(xa, dxa, xb, dxb Matrix, train bool) (y, dy Matrix) {
	ya, ta := ForwardTangent(c.A, xa, dxa, train)
	yb, tb := ForwardTangent(c.B, xb, dxb, train)
	c.y = c.join(c.y, ya, yb, ya, yb)
	if len(ta.Data) == 0 && len(tb.Data) == 0 {
		return c.y, Matrix{}
	}
	c.t = c.join(c.t, ta, tb, ya, yb)
	return c.y, c.t
}

// Share returns a Concat2 of the branches' twins (see Sharer).
func (c *Concat2) Share() *Concat2 { return &Concat2{A: Share(c.A), B: Share(c.B)} }

// Params lists A's parameters, then B's.
func (c *Concat2) Params() []*Param {
	return append(append([]*Param(nil), c.A.Params()...), c.B.Params()...)
}

// Residual is y = Inner(x) + x (a skip connection; NoProp's label path
// adds one). Inner must keep the width.
type Residual struct {
	Inner Layer

	y, dx, t Matrix // t: the tangent
}

// Forward returns Inner(x) + x in a buffer owned by r. x must stay unchanged
// until Backward (Inner may keep a reference to it).
func (r *Residual) Forward(x Matrix, train bool) Matrix {
	f := r.Inner.Forward(x, train)
	r.y = r.sum(r.y, f, x)
	return r.y
}

// sum sets buf to a + b (resized), where a is Inner's result for x.
func (r *Residual) sum(buf, a, b Matrix) Matrix {
	if a.Rows != b.Rows || a.Cols != b.Cols {
		panic(fmt.Sprintf("nn: Residual: inner maps %d×%d to %d×%d", b.Rows, b.Cols, a.Rows, a.Cols))
	}
	buf = Resize(buf, a.Rows, a.Cols)
	copy(buf.Data, a.Data)
	addTo(buf.Data, b.Data)
	return buf
}

// Backward returns Inner.Backward(dy) + dy.
func (r *Residual) Backward(dy Matrix) Matrix {
	g := r.Inner.Backward(dy)
	r.dx = r.sum(r.dx, g, dy)
	return r.dx
}

// ForwardTangent returns Forward(x) and ẏ = İnner + ẋ (see TangentLayer).
func (r *Residual) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	hasX := hasTangent("Residual", x, dx)
	f, df := ForwardTangent(r.Inner, x, dx, train)
	r.y = r.sum(r.y, f, x)
	switch {
	case len(df.Data) == 0 && !hasX:
		return r.y, Matrix{}
	case len(df.Data) == 0:
		r.t = Resize(r.t, dx.Rows, dx.Cols)
		copy(r.t.Data, dx.Data)
	case !hasX:
		r.t = Resize(r.t, df.Rows, df.Cols)
		copy(r.t.Data, df.Data)
	default:
		r.t = r.sum(r.t, df, dx)
	}
	return r.y, r.t
}

// Share returns a Residual around Inner's twin (see Sharer).
func (r *Residual) Share() Layer { return &Residual{Inner: Share(r.Inner)} }

// Params returns Inner's parameters.
func (r *Residual) Params() []*Param { return r.Inner.Params() }
