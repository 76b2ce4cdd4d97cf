package nn

import "fmt"

// Perturb is the identity with a source of tangent: Forward returns its
// input, and ForwardTangent returns the input with the tangent ẋ + U, the
// direction U of the activity itself added to the tangent that arrives. It
// marks where activity-perturbed forward gradient (Ren et al. 2023, FG-A)
// perturbs a network: placed after a layer's pre-activation z, a
// forward-mode pass carries U to the loss, whose directional derivative
// L̇ = ∇_z L·U (per example, see SoftmaxCrossEntropy.RowTangents) gives the
// unbiased estimate L̇·U of ∇_z L when U ~ N(0, I).
//
// Backward passes the gradient through unchanged, so a network with Perturb
// layers is still a network for back-propagation. The zero value is ready
// to use (no perturbation).
type Perturb struct {
	// U is the perturbation, of the shape of the input; empty means none,
	// and the layer then passes its input's tangent on. Perturb never writes
	// it.
	U Matrix

	t Matrix // the tangent
}

// Forward returns x.
func (p *Perturb) Forward(x Matrix, train bool) Matrix { return x }

// Backward returns dy.
func (p *Perturb) Backward(dy Matrix) Matrix { return dy }

// Params is empty.
func (p *Perturb) Params() []*Param { return nil }

// ForwardTangent returns x and ẏ = ẋ + U (see TangentLayer): ẋ itself when U
// is empty, else a buffer owned by the layer (a copy of U when ẋ is empty),
// so that in-place layers after it never write over U.
func (p *Perturb) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	hasX := hasTangent("Perturb", x, dx)
	if len(p.U.Data) == 0 {
		return x, dx
	}
	if p.U.Rows != x.Rows || p.U.Cols != x.Cols {
		panic(fmt.Sprintf("nn: Perturb: perturbation is %d×%d, input %d×%d", p.U.Rows, p.U.Cols, x.Rows, x.Cols))
	}
	p.t = Resize(p.t, x.Rows, x.Cols)
	copy(p.t.Data, p.U.Data)
	if hasX {
		addTo(p.t.Data, dx.Data)
	}
	return x, p.t
}

// Share returns a Perturb without a perturbation (see Sharer): U belongs
// to a pass, not to the layer.
func (p *Perturb) Share() Layer { return &Perturb{} }
