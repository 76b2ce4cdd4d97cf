package dtp

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

func blobs(t *testing.T) tasks.Dataset {
	t.Helper()
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 100, TestPer: 50, Shape: tasks.Shape{C: 1, H: 1, W: 12}, Noise: 0.3, Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var all4 = []int{0, 1, 2, 3}

func newLearner(t *testing.T, edit func(*Settings)) *Learner {
	t.Helper()
	s := DefaultSettings()
	s.Hidden, s.Iterations, s.Epochs, s.BatchSize = []int{16, 16, 16}, 200, 0, 32
	s.LR, s.InverseLR = 0.003, 0.003
	if edit != nil {
		edit(&s)
	}
	l, err := NewLearner(methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 12}, Outputs: 4, Seed: 1}, s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func matrix(s tasks.Set) nn.Matrix { return nn.Matrix{Rows: s.Len(), Cols: s.Shape.Size(), Data: s.X} }

func clone(m nn.Matrix) nn.Matrix {
	return nn.Matrix{Rows: m.Rows, Cols: m.Cols, Data: slices.Clone(m.Data)}
}

func squaredError(a, b nn.Matrix) float64 {
	s := 0.0
	for i, v := range a.Data {
		d := float64(v) - float64(b.Data[i])
		s += d * d
	}
	return s / float64(a.Rows)
}

// reconstructionErrors are every inverse's ‖g(f(h)) − h‖² on x, mean over
// rows (g_o last, for SDTP).
func reconstructionErrors(l *Learner, x nn.Matrix, y []int) []float64 {
	l.forward(x)
	h := slices.Clone(l.h)
	for k := range h {
		h[k] = clone(h[k])
	}
	var out []float64
	for k := 1; k < len(l.fwd); k++ {
		q := l.fwd[k].twin.Forward(h[k], false)
		out = append(out, squaredError(l.inv[k].eval.Forward(q, false), h[k]))
	}
	if l.out != nil {
		var ce nn.SoftmaxCrossEntropy
		ce.Forward(l.cor.Forward(h[len(l.fwd)], false), y, all4)
		out = append(out, squaredError(l.out.eval.Forward(ce.Probs(), false), h[len(l.fwd)]))
	}
	return out
}

// trainInverses makes steps of the inverse part alone.
func trainInverses(l *Learner, ds tasks.Dataset, steps int) {
	x := matrix(ds.Train)
	for s := range steps {
		lo := (s * 32) % (x.Rows - 32)
		l.forward(x.Slice(lo, lo+32))
		l.inverseGradients(methods.Batch{Y: ds.Train.Y[lo : lo+32], Mask: mask4})
		l.invOpt.Step(l.invParams)
	}
}

func params(ps []*nn.Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, slices.Clone(p.Value))
	}
	return out
}

func same(a, b [][]float32) bool { return slices.EqualFunc(a, b, slices.Equal) }

// Training the inverses lowers their reconstruction error on held-out
// data, for every kind of inverse, and leaves the forward weights alone.
func TestInverseReconstructionFalls(t *testing.T) {
	ds := blobs(t)
	for _, tc := range []struct {
		name string
		edit func(*Settings)
	}{
		{"dtp-noisy", nil},
		{"dtp-clean", func(s *Settings) { s.InverseTarget = TargetClean }},
		{"sdtp", func(s *Settings) { s.Variant = VariantSDTP }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLearner(t, tc.edit)
			fwd := params(l.fwdParams)
			x := matrix(ds.Test)
			before := reconstructionErrors(l, x, ds.Test.Y)
			trainInverses(l, ds, 300)
			after := reconstructionErrors(l, x, ds.Test.Y)
			for k := range before {
				t.Logf("inverse %d: error %.4f before, %.4f after", k+1, before[k], after[k])
				if !(after[k] < 0.5*before[k]) {
					t.Errorf("inverse %d: held-out reconstruction error %.4f before training, %.4f after: want it halved", k+1, before[k], after[k])
				}
			}
			if !same(fwd, params(l.fwdParams)) {
				t.Error("training the inverses changed the forward weights")
			}
		})
	}
}

// outputLoss propagates h as layer k's activity (k = 0: the input) through
// the layers above it and returns the mean cross-entropy.
func outputLoss(l *Learner, h nn.Matrix, k int, y []int) float64 {
	for j := k; j < len(l.fwd); j++ {
		h = l.fwd[j].twin.Forward(h, false)
	}
	var ce nn.SoftmaxCrossEntropy
	return ce.Forward(l.cor.Forward(h, false), y, all4)
}

// Every layer's target, propagated up through the layers above it in place
// of the layer's activity, lowers the output loss: the top target by its
// gradient step (DTP) or its inverse (SDTP), the lower ones through the
// trained inverses and the difference correction.
func TestTargetsLowerTheOutputLoss(t *testing.T) {
	ds := blobs(t)
	for _, variant := range []string{VariantDTP, VariantSDTP} {
		t.Run(variant, func(t *testing.T) {
			l := newLearner(t, func(s *Settings) { s.Variant = variant })
			trainInverses(l, ds, 500)
			x, y := matrix(ds.Test), ds.Test.Y
			l.forwardGradients(methods.Batch{X: x, Y: y, Mask: mask4})
			base := outputLoss(l, clone(l.h[len(l.fwd)]), len(l.fwd), y)
			for k := len(l.fwd); k >= 1; k-- {
				got := outputLoss(l, clone(l.target[k]), k, y)
				t.Logf("target of layer %d: output loss %.4f, from the activity %.4f", k, got, base)
				if !(got < base) {
					t.Errorf("layer %d: the target gives output loss %.4f, the activity %.4f", k, got, base)
				}
			}
		})
	}
}

// DTP's top target is h − α·∂ℓ_i/∂h with ℓ_i row i's own cross-entropy
// (central differences of that row's loss).
func TestTopTargetIsAGradientStep(t *testing.T) {
	ds := blobs(t)
	l := newLearner(t, func(s *Settings) { s.Alpha = 0.7 })
	x, y := matrix(ds.Test).Slice(0, 5), ds.Test.Y[:5]
	l.forwardGradients(methods.Batch{X: x, Y: y, Mask: mask4})
	top := len(l.fwd)
	h, target := clone(l.h[top]), l.target[top]
	var ce nn.SoftmaxCrossEntropy
	const step = 1e-2
	for i := range h.Rows {
		for j := range h.Cols {
			row := func(d float32) float64 {
				r := clone(h.Slice(i, i+1))
				r.Data[j] += d
				return ce.Forward(l.cor.Forward(r, false), y[i:i+1], all4)
			}
			grad := (row(step) - row(-step)) / (2 * step)
			want := float64(h.Row(i)[j]) - 0.7*grad
			if got := float64(target.Row(i)[j]); math.Abs(got-want) > 1e-3 {
				t.Fatalf("row %d unit %d: target %g, want h − α·∂ℓ/∂h = %g", i, j, got, want)
			}
		}
	}
}

// The difference correction: ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l), so a
// top target equal to the activity leaves every target at its activity
// however poor the inverses.
func TestDifferenceCorrection(t *testing.T) {
	ds := blobs(t)
	l := newLearner(t, nil)
	x, y := matrix(ds.Test).Slice(0, 8), ds.Test.Y[:8]
	l.forwardGradients(methods.Batch{X: x, Y: y, Mask: mask4})
	for k := len(l.fwd); k >= 2; k-- {
		g := l.inv[k-1].eval
		ga := clone(g.Forward(l.target[k], false))
		gb := g.Forward(l.h[k], false)
		for i, v := range l.h[k-1].Data {
			want := v + (ga.Data[i] - gb.Data[i])
			if got := l.target[k-1].Data[i]; math.Abs(float64(got-want)) > 1e-6 {
				t.Fatalf("target of layer %d [%d] = %g, want h + g(ĥ) − g(h) = %g", k-1, i, got, want)
			}
		}
	}
	l.targets(nn.NewMatrix(8, 16), methods.Batch{Y: y, Mask: mask4}) // a zero gradient: ĥ_H = h_H
	for k := 1; k <= len(l.fwd); k++ {
		if !slices.Equal(l.target[k].Data, l.h[k].Data) {
			t.Errorf("layer %d: with ĥ_H = h_H its target differs from its activity", k)
		}
	}
}

// The gradient a hidden layer gets is that of ‖f(h_{l−1}) − ĥ_l‖² with its
// input and target held (central differences).
func TestLayerGradient(t *testing.T) {
	ds := blobs(t)
	l := newLearner(t, nil)
	trainInverses(l, ds, 50)
	x, y := matrix(ds.Test).Slice(0, 6), ds.Test.Y[:6]
	l.forwardGradients(methods.Batch{X: x, Y: y, Mask: mask4})
	for k, f := range l.fwd {
		in, target := clone(l.h[k]), clone(l.target[k+1])
		loss := func() float64 {
			var m nn.MSE
			return m.Forward(f.twin.Forward(in, false), target)
		}
		for _, p := range f.lin.Params() {
			for i := 0; i < len(p.Value); i += 7 {
				old := p.Value[i]
				p.Value[i] = old + 1e-2
				lp := loss()
				p.Value[i] = old - 1e-2
				lm := loss()
				p.Value[i] = old
				num := (lp - lm) / 2e-2
				if a := float64(p.Grad[i]); math.Abs(a-num) > 1e-3*math.Max(1, math.Abs(num)) {
					t.Errorf("layer %d %s[%d]: gradient %g, central difference %g", k+1, p.Name, i, a, num)
				}
			}
		}
	}
}

// The alternating schedule trains the inverses and the forward weights in
// separate passes, each leaving the other's weights alone; the simultaneous
// one trains both on every minibatch. Both learn the toy problem (where
// backprop with the same network and budget reaches 94 %).
func TestSchedules(t *testing.T) {
	ds := blobs(t)
	for _, tc := range []struct {
		variant, schedule string
		parts             []string
	}{
		{VariantDTP, Alternating, []string{"inverse", "forward"}},
		{VariantSDTP, Alternating, []string{"inverse", "forward"}},
		{VariantDTP, Simultaneous, []string{""}},
		{VariantSDTP, Simultaneous, []string{""}},
	} {
		t.Run(tc.variant+"-"+tc.schedule, func(t *testing.T) {
			l := newLearner(t, func(s *Settings) { s.Variant, s.Schedule = tc.variant, tc.schedule })
			var parts []string
			fwd, inv := params(l.fwdParams), params(l.invParams)
			obs := methods.ObserverFunc(func(e methods.EpochStats) {
				parts = append(parts, e.Part)
				switch e.Part {
				case "inverse":
					if !same(fwd, params(l.fwdParams)) {
						t.Error("the inverse pass changed the forward weights")
					}
				case "forward":
					if !same(inv, params(l.invParams)) {
						t.Error("the forward pass changed the inverse weights")
					}
				default:
					if same(fwd, params(l.fwdParams)) || same(inv, params(l.invParams)) {
						t.Error("a simultaneous pass left the forward or the inverse weights unchanged")
					}
				}
				fwd, inv = params(l.fwdParams), params(l.invParams)
			})
			if err := l.Learn(context.Background(), ds.Train, all4, obs); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(parts[:len(tc.parts)], tc.parts) {
				t.Errorf("passes %q, want %q repeated", parts, tc.parts)
			}
			scores := l.Scores(matrix(ds.Test), all4)
			correct := 0
			for i, y := range ds.Test.Y {
				r := scores.Row(i)
				if slices.Index(r, slices.Max(r)) == y {
					correct++
				}
			}
			if acc := 100 * float64(correct) / float64(len(ds.Test.Y)); acc < 90 {
				t.Errorf("test accuracy %.1f%%, want ≥ 90%% (backprop: 94%%)", acc)
			}
		})
	}
}

// mask4 marks all four outputs of the tests' learners active.
var mask4 = []bool{true, true, true, true}
