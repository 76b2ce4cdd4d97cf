package nn

import "fmt"

// Layers own scratch buffers: their outputs, input gradients, tangents,
// im2col columns, normalised activations, pooling switches. They are sized
// for the largest batch a layer has seen and reused, so a step allocates
// nothing; but a network of many blocks that never run at the same time
// (NoProp-DT trains one block at a time, and runs them one after another at
// inference) would otherwise keep one set per block. MoveScratch hands a
// layer's buffers to a layer of the same type and shape, which then owns
// them while the first owns none: the blocks share one set of buffers that
// travels to the block at work.
//
// A layer's scratch holds nothing its future results depend on: moving it
// away between a Backward and the next Forward changes no number. It must
// not be moved between a Forward and its Backward.

// ScratchMover is implemented by every layer of this package that owns
// scratch buffers, and by the composites (which move their parts').
type ScratchMover interface {
	// MoveScratch hands the layer's scratch buffers to to, a layer of the
	// same type and shape, whose own buffers are dropped.
	MoveScratch(to any)
}

// MoveScratch moves from's scratch buffers to to (see ScratchMover); it
// does nothing for a layer that owns none. It panics when from and to are
// not of the same type.
func MoveScratch(from, to any) {
	if from == to {
		return
	}
	if m, ok := from.(ScratchMover); ok {
		m.MoveScratch(to)
	}
}

func scratchTarget[T any](from *T, to any) *T {
	t, ok := to.(*T)
	if !ok {
		panic(fmt.Sprintf("nn: MoveScratch from %T to %T", from, to))
	}
	return t
}

// ScratchBytes is the memory held by the scratch buffers of l and the
// layers inside it, in bytes: what MoveScratch moves.
func ScratchBytes(l any) int {
	if s, ok := l.(interface{ scratchBytes() int }); ok {
		return s.scratchBytes()
	}
	return 0
}

func mb(ms ...Matrix) int {
	n := 0
	for _, m := range ms {
		n += 4 * cap(m.Data)
	}
	return n
}

// MoveScratch hands the output, input gradient and tangent buffers to to.
func (l *Linear) MoveScratch(to any) {
	d := scratchTarget(l, to)
	d.y, d.dx, d.t = l.y, l.dx, l.t
	l.y, l.dx, l.t = Matrix{}, Matrix{}, Matrix{}
}

func (l *Linear) scratchBytes() int { return mb(l.y, l.dx, l.t) }

func (a *activation) move(d *activation) {
	d.y, d.dx, d.t = a.y, a.dx, a.t
	a.y, a.dx, a.t, a.out = Matrix{}, Matrix{}, Matrix{}, Matrix{}
}

// MoveScratch hands the buffers to to.
func (r *ReLU) MoveScratch(to any) { r.act.move(&scratchTarget(r, to).act) }

// MoveScratch hands the buffers to to.
func (t *Tanh) MoveScratch(to any) { t.act.move(&scratchTarget(t, to).act) }

// MoveScratch hands the buffers to to.
func (s *Sigmoid) MoveScratch(to any) { s.act.move(&scratchTarget(s, to).act) }

func (r *ReLU) scratchBytes() int    { return mb(r.act.y, r.act.dx, r.act.t) }
func (t *Tanh) scratchBytes() int    { return mb(t.act.y, t.act.dx, t.act.t) }
func (s *Sigmoid) scratchBytes() int { return mb(s.act.y, s.act.dx, s.act.t) }

// MoveScratch hands the im2col columns, output, input gradient, tangent
// and the direct path's partial gradients to to.
func (l *Conv2D) MoveScratch(to any) {
	d := scratchTarget(l, to)
	d.cols, d.out, d.dx, d.t, d.part = l.cols, l.out, l.dx, l.t, l.part
	d.colsValid, l.colsValid = false, false
	l.cols, l.out, l.dx, l.t, l.part = Matrix{}, Matrix{}, Matrix{}, Matrix{}, nil
}

func (l *Conv2D) scratchBytes() int { return mb(l.cols, l.out, l.dx, l.t) + 4*cap(l.part) }

// MoveScratch hands the output, gradient, tangents and switches to to.
func (p *MaxPool2x2) MoveScratch(to any) {
	d := scratchTarget(p, to)
	d.out, d.dx, d.t, d.tx, d.arg = p.out, p.dx, p.t, p.tx, p.arg
	p.out, p.dx, p.t, p.tx, p.arg = Matrix{}, Matrix{}, Matrix{}, Matrix{}, nil
}

func (p *MaxPool2x2) scratchBytes() int { return mb(p.out, p.dx, p.t, p.tx) + cap(p.arg) }

// MoveScratch hands the output, gradient and tangent buffers to to.
func (d *Dropout) MoveScratch(to any) {
	t := scratchTarget(d, to)
	t.out, t.dx, t.t = d.out, d.dx, d.t
	d.out, d.dx, d.t = Matrix{}, Matrix{}, Matrix{}
}

func (d *Dropout) scratchBytes() int { return mb(d.out, d.dx, d.t) }

// MoveScratch hands the normalised activations, output, gradient and
// tangent buffers to to.
func (bn *BatchNorm1D) MoveScratch(to any) {
	d := scratchTarget(bn, to)
	d.xhat, d.out, d.dx, d.t = bn.xhat, bn.out, bn.dx, bn.t
	bn.xhat, bn.out, bn.dx, bn.t = Matrix{}, Matrix{}, Matrix{}, Matrix{}
}

func (bn *BatchNorm1D) scratchBytes() int { return mb(bn.xhat, bn.out, bn.dx, bn.t) }

// MoveScratch hands the normalised activations, output, gradient and
// tangent buffers to to.
func (l *LayerNorm) MoveScratch(to any) {
	d := scratchTarget(l, to)
	d.xhat, d.out, d.dx, d.t, d.invStd = l.xhat, l.out, l.dx, l.t, l.invStd
	l.xhat, l.out, l.dx, l.t, l.invStd = Matrix{}, Matrix{}, Matrix{}, Matrix{}, nil
}

func (l *LayerNorm) scratchBytes() int { return mb(l.xhat, l.out, l.dx, l.t) + 4*cap(l.invStd) }

// MoveScratch hands the output, gradient and tangent buffers to to.
func (s *Softmax) MoveScratch(to any) {
	d := scratchTarget(s, to)
	d.out, d.dx, d.t = s.out, s.dx, s.t
	s.out, s.dx, s.t = Matrix{}, Matrix{}, Matrix{}
}

func (s *Softmax) scratchBytes() int { return mb(s.out, s.dx, s.t) }

// MoveScratch hands the output, gradient and tangent buffers to to.
func (l *CHWToHWC) MoveScratch(to any) {
	d := scratchTarget(l, to)
	d.out, d.dx, d.t = l.out, l.dx, l.t
	l.out, l.dx, l.t = Matrix{}, Matrix{}, Matrix{}
}

func (l *CHWToHWC) scratchBytes() int { return mb(l.out, l.dx, l.t) }

// MoveScratch hands the output, gradient and tangent buffers to to.
func (e *TimeEmbedding) MoveScratch(to any) {
	d := scratchTarget(e, to)
	d.out, d.dx, d.t = e.out, e.dx, e.t
	e.out, e.dx, e.t = Matrix{}, Matrix{}, Matrix{}
}

func (e *TimeEmbedding) scratchBytes() int { return mb(e.out, e.dx, e.t) }

// MoveScratch moves every layer's buffers to the matching layer of to.
func (s *Sequential) MoveScratch(to any) {
	d := scratchTarget(s, to)
	if len(d.Layers) != len(s.Layers) {
		panic(fmt.Sprintf("nn: MoveScratch between Sequentials of %d and %d layers", len(s.Layers), len(d.Layers)))
	}
	for i, l := range s.Layers {
		MoveScratch(l, d.Layers[i])
	}
}

func (s *Sequential) scratchBytes() int {
	n := 0
	for _, l := range s.Layers {
		n += ScratchBytes(l)
	}
	return n
}

// MoveScratch moves the joined output, the split gradients and both
// branches' buffers to to.
func (c *Concat2) MoveScratch(to any) {
	d := scratchTarget(c, to)
	d.y, d.t, d.da, d.db = c.y, c.t, c.da, c.db
	c.y, c.t, c.da, c.db = Matrix{}, Matrix{}, Matrix{}, Matrix{}
	MoveScratch(c.A, d.A)
	MoveScratch(c.B, d.B)
}

func (c *Concat2) scratchBytes() int {
	return mb(c.y, c.t, c.da, c.db) + ScratchBytes(c.A) + ScratchBytes(c.B)
}

// MoveScratch moves the sum's buffers and the inner layer's to to.
func (r *Residual) MoveScratch(to any) {
	d := scratchTarget(r, to)
	d.y, d.dx, d.t = r.y, r.dx, r.t
	r.y, r.dx, r.t = Matrix{}, Matrix{}, Matrix{}
	MoveScratch(r.Inner, d.Inner)
}

func (r *Residual) scratchBytes() int { return mb(r.y, r.dx, r.t) + ScratchBytes(r.Inner) }

// MoveScratch hands the probabilities, mixture, gradient and tangent
// buffers to to.
func (m *SoftmaxMix) MoveScratch(to any) {
	d := scratchTarget(m, to)
	d.p, d.u, d.dp, d.dl, d.pt, d.ut = m.p, m.u, m.dp, m.dl, m.pt, m.ut
	m.p, m.u, m.dp, m.dl, m.pt, m.ut = Matrix{}, Matrix{}, Matrix{}, Matrix{}, Matrix{}, Matrix{}
}

func (m *SoftmaxMix) scratchBytes() int { return mb(m.p, m.u, m.dp, m.dl, m.pt, m.ut) }
