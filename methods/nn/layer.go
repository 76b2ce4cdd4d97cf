package nn

// Param is one trainable tensor with its gradient. Backward passes add into
// Grad; an optimizer's Step applies Grad and then zeroes it.
type Param struct {
	Name  string
	Value []float32
	Grad  []float32
	// Shape is informational (e.g. [in, out] for a weight matrix).
	Shape []int
	// NoDecay excludes the tensor from weight decay (biases, norm scales).
	NoDecay bool
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
