package nn

import (
	"fmt"
	"strings"
	"testing"
)

// Every layer of the package has a forward mode and can share its weights.
var (
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Linear)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*ReLU)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Tanh)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Sigmoid)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Softmax)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Conv2D)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*CHWToHWC)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*MaxPool2x2)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Dropout)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*BatchNorm1D)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*LayerNorm)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*TimeEmbedding)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Sequential)(nil)
	_ interface {
		Layer
		Sharer
		TangentLayer
	} = (*Residual)(nil)
)

// distinct returns rows×cols values 0.05 apart in random order, none within
// 0.025 of zero, so that a step of 0.01 changes neither a pooling window's
// winner nor a ReLU's side.
func distinct(rng *RNG, rows, cols int) Matrix {
	m := NewMatrix(rows, cols)
	for i, j := range rng.Perm(len(m.Data)) {
		m.Data[i] = 0.05*float32(j) - 0.05*float32(len(m.Data)/2) + 0.025
	}
	return m
}

// layerCase is one layer (or network) of the package with an input for it,
// for the forward-mode and sharing checks.
type layerCase struct {
	name   string
	build  func(rng *RNG) Layer
	input  func(rng *RNG) Matrix
	train  bool
	h, tol float64 // finite-difference step and tolerance
}

func layerCases() []layerCase {
	uniform := func(rows, cols int) func(*RNG) Matrix {
		return func(rng *RNG) Matrix { return randMatrix(rng, rows, cols, 1) }
	}
	away := func(rows, cols int) func(*RNG) Matrix {
		return func(rng *RNG) Matrix { return awayFromZero(rng, rows, cols) }
	}
	spread := func(rows, cols int) func(*RNG) Matrix {
		return func(rng *RNG) Matrix { return distinct(rng, rows, cols) }
	}
	dropReLU := func(rng *RNG) Layer {
		d := NewDropout(0.4, rng)
		d.ReLU = true
		return d
	}
	bnEval := func(rng *RNG) Layer { return randomBatchNorm(rng, 5, true) }
	bnTrain := func(rng *RNG) Layer { return randomBatchNorm(rng, 4, false) }
	ln := func(rng *RNG) Layer {
		l := NewLayerNorm(6)
		rng.FillUniform(l.Gamma.Value, 2)
		rng.FillUniform(l.Beta.Value, 1)
		return l
	}
	mix := func(identity bool) func(rng *RNG) Layer {
		return func(rng *RNG) Layer {
			o := &SoftmaxMix{Identity: identity}
			if !identity {
				o.W = NewParam("w", false, 4, 3)
				rng.FillUniform(o.W.Value, 1)
			}
			return &mixLayer{o: o, mask: []bool{true, false, true, true}}
		}
	}
	convNet := func(rng *RNG) Layer {
		toHWC := NewCHWToHWC(2, 10, 9)
		c1 := NewConv2D(2, 10, 9, 4, 3, InitPyTorch, rng)
		p1 := NewMaxPool2x2(c1.OutShape())
		p1.ReLU = true
		pc, ph, pw := p1.OutShape()
		c2 := NewConv2D(pc, ph, pw, 6, 2, InitPyTorch, rng)
		d2 := NewDropout(0.3, rng.Split("d2"))
		d2.ReLU, d2.InPlace = true, true
		oc, oh, ow := c2.OutShape()
		return &Sequential{Layers: []Layer{toHWC, c1, p1, NewDropout(0.2, rng.Split("d1")), c2, d2,
			NewLinear(oc*oh*ow, 8, InitPyTorch, rng), NewBatchNorm1D(8), &Softmax{}}}
	}
	return []layerCase{
		{"linear", func(rng *RNG) Layer { return NewLinear(7, 5, InitPyTorch, rng) }, uniform(4, 7), true, 1e-2, 1e-2},
		{"linear-1x1", func(rng *RNG) Layer { return NewLinear(1, 1, InitPyTorch, rng) }, uniform(1, 1), true, 1e-2, 1e-2},
		{"relu", func(*RNG) Layer { return &ReLU{} }, away(3, 9), true, 1e-2, 1e-2},
		{"tanh", func(*RNG) Layer { return &Tanh{} }, away(3, 9), true, 1e-2, 1e-2},
		{"sigmoid", func(*RNG) Layer { return &Sigmoid{} }, away(3, 9), true, 1e-2, 1e-2},
		{"softmax", func(*RNG) Layer { return &Softmax{} }, uniform(4, 6), true, 1e-2, 1e-2},
		{"conv", func(rng *RNG) Layer { return NewConv2D(2, 6, 7, 3, 3, InitPyTorch, rng) }, uniform(2, 2*6*7), true, 1e-2, 1e-2},
		{"conv-5x5", func(rng *RNG) Layer { return NewConv2D(3, 7, 6, 2, 5, InitPyTorch, rng) }, uniform(2, 3*7*6), true, 1e-2, 1e-2},
		// One channel, 3×3, 32 outputs: the direct path where it exists.
		{"conv-direct", func(rng *RNG) Layer { return NewConv2D(1, 6, 5, 32, 3, InitPyTorch, rng) }, uniform(3, 30), true, 1e-2, 1e-2},
		{"chw-to-hwc", func(*RNG) Layer { return NewCHWToHWC(3, 2, 4) }, uniform(2, 24), true, 1e-2, 1e-2},
		{"chw-to-hwc-c1", func(*RNG) Layer { return NewCHWToHWC(1, 3, 4) }, uniform(2, 12), true, 1e-2, 1e-2},
		{"maxpool", func(*RNG) Layer { return NewMaxPool2x2(3, 5, 6) }, spread(2, 3*5*6), true, 1e-2, 1e-2},
		{"maxpool-relu", func(*RNG) Layer {
			p := NewMaxPool2x2(16, 3, 4) // 16 channels: the vector kernels where they exist
			p.ReLU = true
			return p
		}, spread(2, 16*3*4), true, 1e-2, 1e-2},
		{"dropout", func(rng *RNG) Layer { return NewDropout(0.4, rng) }, uniform(3, 20), true, 1e-2, 1e-2},
		{"dropout-relu", dropReLU, away(3, 40), true, 1e-2, 1e-2},
		{"dropout-eval", func(rng *RNG) Layer { return NewDropout(0.4, rng) }, uniform(3, 20), false, 1e-2, 1e-2},
		{"dropout-relu-eval", dropReLU, away(3, 20), false, 1e-2, 1e-2},
		{"batchnorm-train", bnTrain, func(rng *RNG) Matrix {
			x := randMatrix(rng, 6, 4, 1)
			for i := range x.Data {
				x.Data[i] = 2*x.Data[i] + float32(i%4)
			}
			return x
		}, true, 1e-2, 1e-2},
		{"batchnorm-eval", bnEval, uniform(3, 5), false, 1e-2, 1e-2},
		{"layernorm", ln, func(rng *RNG) Matrix {
			x := randMatrix(rng, 5, 6, 2)
			for i := range x.Data {
				x.Data[i] += float32(i / 6) // per-row offsets
			}
			return x
		}, true, 1e-2, 1e-2},
		{"layernorm-one-feature", func(*RNG) Layer { return NewLayerNorm(1) }, uniform(3, 1), true, 1e-2, 1e-2},
		{"time-embedding", func(*RNG) Layer { return &TimeEmbedding{Dim: 8, Scale: 3} }, func(rng *RNG) Matrix {
			x := NewMatrix(5, 1)
			for i := range x.Data {
				x.Data[i] = rng.Float32()
			}
			return x
		}, true, 1e-2, 1e-2},
		{"sequential", func(rng *RNG) Layer {
			return &Sequential{Layers: []Layer{NewLinear(6, 5, InitPyTorch, rng), NewBatchNorm1D(5), &Tanh{},
				NewLinear(5, 4, InitPyTorch, rng), NewLayerNorm(4), &Sigmoid{}}}
		}, uniform(5, 6), true, 1e-3, 1e-2},
		{"residual", func(rng *RNG) Layer {
			return &Residual{Inner: &Sequential{Layers: []Layer{NewLinear(5, 5, InitPyTorch, rng), &Tanh{}}}}
		}, uniform(4, 5), true, 1e-2, 1e-2},
		{"residual-no-params", func(*RNG) Layer { return &Residual{Inner: &Tanh{}} }, uniform(4, 5), true, 1e-2, 1e-2},
		{"concat", func(rng *RNG) Layer {
			return &concatLayer{na: 3, c: &Concat2{
				A: NewLinear(3, 4, InitPyTorch, rng),
				B: &Sequential{Layers: []Layer{NewLinear(2, 4, InitPyTorch, rng),
					&Residual{Inner: &Sequential{Layers: []Layer{NewLinear(4, 4, InitPyTorch, rng), &Tanh{}}}}}},
			}}
		}, uniform(5, 5), true, 1e-2, 1e-2},
		{"concat-one-tangent", func(rng *RNG) Layer {
			// B sees a fixed input: no input tangent, but its parameters'
			// tangents count.
			return &concatLayer{fixedB: randMatrix(rng, 5, 2, 1), c: &Concat2{
				A: &Tanh{}, B: NewLinear(2, 4, InitPyTorch, rng)}}
		}, uniform(5, 3), true, 1e-2, 1e-2},
		{"softmax-mix", mix(false), uniform(5, 4), true, 1e-2, 1e-2},
		{"softmax-mix-identity", mix(true), uniform(5, 4), true, 1e-2, 1e-2},
		{"linear-mix", linearMixCase(false), uniform(5, 4), true, 1e-2, 1e-2},
		{"linear-mix-identity", linearMixCase(true), uniform(5, 4), true, 1e-2, 1e-2},
		// A small fused conv stack (ReLUs inside pooling and dropout, one in
		// place), as NoProp's image path is built. Its ReLU kinks and the
		// batch statistics of three examples need a small step.
		{"conv-net", convNet, uniform(3, 2*10*9), true, 1e-4, 2e-2},
	}
}

// findLayerCase returns the case of layerCases with the given name.
func findLayerCase(t *testing.T, name string) layerCase {
	for _, c := range layerCases() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no layer case %q", name)
	return layerCase{}
}

// TestLayerCases checks the forward mode of every case (checkLayerTangent)
// and its backward pass (checkLayerGradStep), so that the adjoint identity
// of the first ties the tangents to verified gradients.
func TestLayerCases(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			for _, check := range []func(*testing.T, Layer, Matrix, bool, float64, float64){checkLayerTangent, checkLayerGradStep} {
				rng := NewRNG(1)
				l := c.build(rng)
				x := c.input(rng)
				freezeDropout(l, x, c.train)
				check(t, l, x, c.train, c.h, c.tol)
			}
		})
	}
}

// In-place layers give the tangents of their out-of-place versions and
// write them over the input tangent.
func TestForwardTangentInPlace(t *testing.T) {
	rng := NewRNG(8)
	x := awayFromZero(rng, 30, 70)
	v := randMatrix(rng, 30, 70, 1)
	drop := func(inPlace bool) Layer {
		d := NewDropout(0.3, NewRNG(9))
		d.ReLU, d.InPlace = true, inPlace
		return d
	}
	for _, p := range [][2]Layer{
		{&ReLU{}, &ReLU{InPlace: true}},
		{&Tanh{}, &Tanh{InPlace: true}},
		{&Sigmoid{}, &Sigmoid{InPlace: true}},
		{drop(false), drop(true)},
	} {
		y, dy := ForwardTangent(p[0], x, v, true)
		x2, v2 := clone(x), clone(v)
		y2, dy2 := ForwardTangent(p[1], x2, v2, true)
		if &y2.Data[0] != &x2.Data[0] || &dy2.Data[0] != &v2.Data[0] {
			t.Errorf("%T: in place, the output or its tangent is not written over the input's", p[1])
		}
		if imgMaxDiff(y.Data, y2.Data) != 0 || imgMaxDiff(dy.Data, dy2.Data) != 0 {
			t.Errorf("%T: in-place results differ", p[1])
		}
	}
}

// A network's forward mode allocates nothing once its buffers exist, for
// an input tangent and weight tangents alike (sizes as in
// TestConvStackNoAllocs), nor does a pass through a twin.
func TestForwardTangentNoAllocs(t *testing.T) {
	rng := NewRNG(10)
	net := findLayerCase(t, "conv-net").build(rng).(*Sequential)
	net.Layers = append(net.Layers, NewLayerNorm(8), &Residual{Inner: NewLinear(8, 8, InitPyTorch, rng)})
	mix := &SoftmaxMix{W: NewParam("w", false, 8, 3)}
	ps := append(net.Params(), mix.W)
	for _, p := range ps {
		p.Tangent = make([]float32, len(p.Value))
		rng.FillUniform(p.Tangent, 1)
	}
	twin := Share(net).(*Sequential)
	x := randMatrix(rng, 3, 2*10*9, 1)
	v := randMatrix(rng, 3, 2*10*9, 1)
	mask := []bool{true, true, false, true, true, true, true, true}
	var loss MSE
	target := randMatrix(rng, 3, 3, 1)
	step := func() {
		y, dy := net.ForwardTangent(x, v, true)
		u, du := mix.ForwardTangent(y, dy, mask)
		loss.ForwardTangent(u, du, target)
		twin.ForwardTangent(x, Matrix{}, true)
	}
	step()
	if n := testing.AllocsPerRun(20, step); n != 0 {
		t.Errorf("a forward-mode step allocates %v times", n)
	}
}

// ForwardTangent names a layer without a forward mode.
func TestForwardTangentNeedsTangentLayer(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "plainLayer") {
			t.Errorf("panic %v, want one naming the layer", r)
		}
	}()
	(&Sequential{Layers: []Layer{&ReLU{}, plainLayer{}}}).ForwardTangent(NewMatrix(1, 2), Matrix{}, true)
}
