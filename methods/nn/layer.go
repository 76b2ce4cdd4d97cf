package nn

import "fmt"

// Param is one trainable tensor with its gradient. Backward passes add into
// Grad; an optimizer's Step applies Grad and then zeroes it.
type Param struct {
	Name  string
	Value []float32
	Grad  []float32
	// Tangent is the direction θ̇ of the tensor in a forward-mode pass
	// (see TangentLayer): the weight perturbation of weight-perturbed
	// forward gradient. Nil means a zero tangent, and then the tensor adds
	// nothing to the pass; otherwise it has len(Value) entries. Nothing in
	// the package writes it.
	Tangent []float32
	// Products is the precision of the products a layer takes with this
	// tensor as its weights (SetProducts); FP32 unless set.
	Products Precision
	// Shape is informational (e.g. [in, out] for a weight matrix).
	Shape []int
	// NoDecay excludes the tensor from weight decay (biases, norm scales).
	NoDecay bool
}

// tangent returns p.Tangent, checking its length; nil for a zero tangent.
func (p *Param) tangent() []float32 {
	if p.Tangent != nil && len(p.Tangent) != len(p.Value) {
		panic(fmt.Sprintf("nn: parameter %q has a tangent of %d values for %d", p.Name, len(p.Tangent), len(p.Value)))
	}
	return p.Tangent
}

// NewParam returns a zeroed parameter of the given shape.
func NewParam(name string, noDecay bool, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{Name: name, Value: make([]float32, n), Grad: make([]float32, n), Shape: shape, NoDecay: noDecay}
}

// Layer is one differentiable stage of a network. Rows of the matrices are
// examples.
//
// Forward returns a matrix owned by the layer, valid until the next Forward.
// Backward takes the gradient of the loss with respect to the last Forward's
// output, adds the parameter gradients into each Param.Grad, and returns the
// gradient with respect to the last Forward's input (owned by the layer).
// Backward must follow a Forward with train set.
type Layer interface {
	Forward(x Matrix, train bool) Matrix
	Backward(dy Matrix) Matrix
	Params() []*Param
}

// Sharer is a layer that can make a twin: a layer that computes the same
// function with the same parameters but has its own activation buffers, so
// that two passes through "one" network (Forward-Forward's positive and
// negative data, a reconstruction pass of target propagation) can run one
// after the other and both be backpropagated. The twin points at the same
// *Param values: a Backward of either adds into the same Grad, so the
// gradient of the two passes is their sum. List the parameters once when
// handing them to an optimizer (the twin's Params are the same pointers).
// Settings (flags, sizes, probabilities) are copied when the twin is made.
//
// Twins also share the layer's state: BatchNorm1D's running statistics and
// Dropout's random source. They are meant for passes run one after the
// other on one goroutine; running twins concurrently races on that state
// and on the gradients.
//
// Every layer of the package implements it, and Share calls it. The
// two-input composites that are not Layers (Concat2, SoftmaxMix) have a
// Share of their own that returns their type.
type Sharer interface {
	Share() Layer
}

// Share returns l's twin (see Sharer). It panics if l cannot make one.
func Share(l Layer) Layer {
	s, ok := l.(Sharer)
	if !ok {
		panic(fmt.Sprintf("nn: %T cannot share its weights (it does not implement nn.Sharer)", l))
	}
	return s.Share()
}

// TangentLayer is a layer with a forward mode: ForwardTangent returns the
// output y = f(x) (what Forward returns, leaving the layer as Forward
// does, so a Backward may follow) and the tangent
//
//	ẏ = J_x f·ẋ + Σ_θ J_θ f·θ̇,
//
// the directional derivative of the output along the input direction ẋ = dx
// and the parameter directions θ̇ = Param.Tangent. It is the Jacobian-vector
// product of forward-mode differentiation, for forward-gradient learning: a
// pass costs about two forward passes and needs no backward one.
//
// An empty dx (no data) means ẋ = 0: a tangent that starts inside a network
// (activity perturbation) enters at the layer where it is perturbed. The
// returned dy is empty when the tangent is identically zero (empty dx and no
// parameter tangent), so layers before the perturbation cost only their
// forward pass. Otherwise dy has y's shape and, like y, is owned by the layer
// (or is dx itself, for layers that pass their input through) and valid
// until the next call.
//
// Layers that work in place (ReLU.InPlace, Dropout.InPlace) write ẏ over dx
// as they write y over x.
//
// Every layer of the package implements it, and ForwardTangent calls it;
// Concat2 and SoftmaxMix have a ForwardTangent of their own shape, and the
// losses (SoftmaxCrossEntropy, MSE) one that returns the loss and its
// directional derivative.
type TangentLayer interface {
	ForwardTangent(x, dx Matrix, train bool) (y, dy Matrix)
}

// ForwardTangent runs l's forward mode (see TangentLayer). It panics if l
// has none.
func ForwardTangent(l Layer, x, dx Matrix, train bool) (y, dy Matrix) {
	tl, ok := l.(TangentLayer)
	if !ok {
		panic(fmt.Sprintf("nn: %T has no forward mode (it does not implement nn.TangentLayer)", l))
	}
	return tl.ForwardTangent(x, dx, train)
}

// hasTangent reports whether the tangent dx of input x is non-zero (not
// empty), and panics if it is neither empty nor of x's shape.
func hasTangent(what string, x, dx Matrix) bool {
	if len(dx.Data) == 0 {
		return false
	}
	if dx.Rows != x.Rows || dx.Cols != x.Cols {
		panic(fmt.Sprintf("nn: %s: input tangent is %d×%d, input %d×%d", what, dx.Rows, dx.Cols, x.Rows, x.Cols))
	}
	return true
}

// affineTangents returns whether the input tangent dx of x is non-zero and
// the tangents of a layer's scale (weight) and shift (bias) parameters, nil
// for zero: the three terms of the tangent of an affine map.
func affineTangents(what string, x, dx Matrix, scale, shift *Param) (hasX bool, st, bt []float32) {
	return hasTangent(what, x, dx), scale.tangent(), shift.tangent()
}

// Sequential chains layers.
type Sequential struct {
	Layers []Layer
}

// Forward runs every layer in order.
func (s *Sequential) Forward(x Matrix, train bool) Matrix {
	for _, l := range s.Layers {
		x = l.Forward(x, train)
	}
	return x
}

// Backward runs every layer's Backward in reverse order.
func (s *Sequential) Backward(dy Matrix) Matrix {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// ForwardTangent chains the layers' forward modes (see TangentLayer); every
// layer must have one.
func (s *Sequential) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	for _, l := range s.Layers {
		x, dx = ForwardTangent(l, x, dx, train)
	}
	return x, dx
}

// Share returns a chain of the layers' twins (see Sharer); every layer must
// be able to make one.
func (s *Sequential) Share() Layer {
	t := &Sequential{Layers: make([]Layer, len(s.Layers))}
	for i, l := range s.Layers {
		t.Layers[i] = Share(l)
	}
	return t
}

// Params lists the parameters of every layer, in layer order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// CountParams is the number of trainable values in ps.
func CountParams(ps []*Param) int {
	n := 0
	for _, p := range ps {
		n += len(p.Value)
	}
	return n
}
