package forwardforward

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// blobs are four separable classes on 40 values (the first four hold the
// label).
func blobs(t *testing.T) tasks.Dataset {
	t.Helper()
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 100, TestPer: 50, Shape: tasks.Shape{C: 1, H: 1, W: 40}, Noise: 0.3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func newLearner(t *testing.T, p methods.Problem, edit func(*Settings)) *Learner {
	t.Helper()
	s := DefaultSettings()
	s.Hidden, s.Iterations, s.Epochs, s.BatchSize = []int{32, 32}, 300, 0, 32
	s.Optimizer, s.LR, s.WeightDecay = "adam", 0.003, 0
	if edit != nil {
		edit(&s)
	}
	l, err := NewLearner(p, s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func matrix(s tasks.Set) nn.Matrix {
	return nn.Matrix{Rows: s.Len(), Cols: s.Shape.Size(), Data: s.X}
}

// layerLosses computes every layer's FF loss on x from its goodness alone,
// positive with labels y and negative with the next label: the mean over
// the 2N rows of softplus(θ − G⁺) and softplus(G⁻ − θ).
func layerLosses(l *Learner, x nn.Matrix, y []int) []float64 {
	out := make([]float64, len(l.layers))
	wrong := make([]int, len(y))
	for i, c := range y {
		wrong[i] = (c + 1) % l.outputs
	}
	for sign, labels := range [][]int{y, wrong} {
		l.layerGoodness(x, labels, func(k int, good []float64) {
			theta := l.layers[k].theta
			for _, g := range good {
				z := theta - g
				if sign == 1 {
					z = g - theta
				}
				out[k] += math.Log1p(math.Exp(z)) / float64(2*len(good))
			}
		})
	}
	return out
}

// Training on separable data lowers every layer's own loss, and the
// goodness of the true label then ranks first.
func TestLayerLossesFallAndGoodnessRanksTheLabel(t *testing.T) {
	ds := blobs(t)
	p := methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 1}
	l := newLearner(t, p, nil)
	x := matrix(ds.Test)
	before := layerLosses(l, x, ds.Test.Y)
	if err := l.Learn(context.Background(), ds.Train, []int{0, 1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	after := layerLosses(l, x, ds.Test.Y)
	for k := range before {
		t.Logf("layer %d: loss %.4f before training, %.4f after", k+1, before[k], after[k])
		if !(after[k] < 0.5*before[k]) {
			t.Errorf("layer %d: held-out loss %.4f before training, %.4f after: want it halved", k+1, before[k], after[k])
		}
	}
	scores := l.Scores(x, []int{0, 1, 2, 3})
	first := 0
	for i, y := range ds.Test.Y {
		row := scores.Row(i)
		best := 0
		for c := range 4 {
			if row[c] > row[best] {
				best = c
			}
		}
		if best == y {
			first++
		}
	}
	if acc := 100 * float64(first) / float64(len(ds.Test.Y)); acc < 95 {
		t.Errorf("the true label has the highest goodness for %.1f%% of held-out examples, want ≥ 95%%", acc)
	}
	// Task-IL: with two candidates, the scores of the others are the
	// lowest value, and the candidates' are their goodness.
	pair := l.Scores(x, []int{1, 3})
	for i := range x.Rows {
		r, full := pair.Row(i), scores.Row(i)
		if r[0] != -math.MaxFloat32 || r[2] != -math.MaxFloat32 || r[1] != full[1] || r[3] != full[3] {
			t.Fatalf("row %d: scores %v with candidates 1 and 3, %v with all", i, r, full)
		}
	}
}

// The gradient a layer adds to its parameters is the gradient of the loss
// it returns (FF loss and peer normalisation), by central differences.
func TestLayerGradient(t *testing.T) {
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 10}, Outputs: 3, Seed: 2}
	l := newLearner(t, p, func(s *Settings) { s.Hidden, s.ScoreFrom, s.PeerNorm, s.Threshold = []int{6}, 1, 0.5, 0.3 })
	ly := l.layers[0]
	rng := nn.NewRNG(3)
	var h [2]nn.Matrix
	for k := range h {
		h[k] = nn.NewMatrix(5, 10)
		rng.FillNormal(h[k].Data, 1)
		h[k] = normalize(h[k], h[k])
	}
	for j := range ly.running {
		ly.running[j] = float64(rng.Float32())
	}
	running := slices.Clone(ly.running)
	loss := func() float64 {
		copy(ly.running, running)
		v := ly.step(h, nil, l.s.PeerNorm, l.s.PeerMomentum)
		for _, q := range l.params {
			clear(q.Grad)
		}
		return v
	}
	copy(ly.running, running)
	ly.step(h, nil, l.s.PeerNorm, l.s.PeerMomentum)
	var grads [][]float32
	for _, q := range l.params {
		grads = append(grads, slices.Clone(q.Grad))
		clear(q.Grad)
	}
	const step = 1e-3
	for pi, q := range l.params {
		for i := range q.Value {
			old := q.Value[i]
			q.Value[i] = old + step
			lp := loss()
			q.Value[i] = old - step
			lm := loss()
			q.Value[i] = old
			num := (lp - lm) / (2 * step)
			if a := float64(grads[pi][i]); math.Abs(a-num) > 2e-3*math.Max(1, math.Abs(num)) {
				t.Errorf("%s[%d]: gradient %.6g, central difference %.6g", q.Name, i, a, num)
			}
		}
	}
}

// No gradient crosses a layer: the first layer's gradient is the same with
// a second layer on top as without.
func TestNoGradientAcrossLayers(t *testing.T) {
	ds := blobs(t)
	p := methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 5}
	one := newLearner(t, p, func(s *Settings) { s.Hidden, s.ScoreFrom = []int{8}, 1 })
	two := newLearner(t, p, func(s *Settings) { s.Hidden = []int{8, 8} })
	x := matrix(ds.Train).Slice(0, 16)
	y := ds.Train.Y[:16]
	one.layerGradients(batchOf(x, y, one.outputs, []int{0, 1, 2, 3}), []int{0, 1, 2, 3})
	two.layerGradients(batchOf(x, y, two.outputs, []int{0, 1, 2, 3}), []int{0, 1, 2, 3})
	for i, q := range one.params {
		if !slices.Equal(q.Grad, two.params[i].Grad) {
			t.Errorf("%s of layer 1: the gradient changes when a layer is added above", q.Name)
		}
	}
	nonzero := slices.ContainsFunc(two.params[2].Grad, func(v float32) bool { return v != 0 })
	if !nonzero {
		t.Error("layer 2 has no gradient: the test checks nothing")
	}
}

// The input of the next layer is the activity divided by its root mean
// square, for the positive and the negative pass.
func TestNormalisationBetweenLayers(t *testing.T) {
	ds := blobs(t)
	l := newLearner(t, methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 5}, nil)
	x := matrix(ds.Train).Slice(0, 8)
	l.layerGradients(batchOf(x, ds.Train.Y[:8], l.outputs, []int{0, 1, 2, 3}), []int{0, 1, 2, 3})
	labels := [2][]int{ds.Train.Y[:8], l.yNeg}
	for k, p := range l.layers[0].pass {
		in := l.embed(nn.Matrix{}, x, labels[k])
		twin := &nn.Sequential{Layers: []nn.Layer{nn.Share(p.lin), &nn.ReLU{}}}
		y := twin.Forward(in, false)
		for i := range y.Rows {
			ss := 0.0
			for _, v := range y.Row(i) {
				ss += float64(v) * float64(v)
			}
			rms := math.Sqrt(ss / float64(y.Cols))
			for j, v := range y.Row(i) {
				if got, want := float64(p.out.Row(i)[j]), float64(v)/rms; math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
					t.Fatalf("pass %d row %d unit %d: next layer's input %g, want activity/rms %g", k, i, j, got, want)
				}
			}
		}
	}
}

// Learn applies the learning-rate schedule to the layers and the readout.
func TestSchedule(t *testing.T) {
	// After a budget of 10 steps the cooldown leaves 1/5 of the rate.
	ds := blobs(t)
	l := newLearner(t, methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 1}, func(s *Settings) {
		s.Iterations, s.Inference = 10, InferSoftmax
	})
	if err := l.Learn(context.Background(), ds.Train, []int{0, 1, 2, 3}, nil); err != nil {
		t.Fatal(err)
	}
	if lr := l.opt.(*nn.Adam).LR; math.Abs(float64(lr)-0.2*l.s.LR) > 1e-9 {
		t.Errorf("layers' rate %g after the budget, want %g", lr, 0.2*l.s.LR)
	}
	if lr := l.rdOpt.(*nn.Adam).LR; math.Abs(float64(lr)-0.2*l.s.ReadoutLR) > 1e-9 {
		t.Errorf("readout's rate %g after the budget, want %g", lr, 0.2*l.s.ReadoutLR)
	}
}

// Negative labels are active, never the true label, and cover the other
// active outputs evenly.
func TestNegatives(t *testing.T) {
	l := newLearner(t, methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 10}, Outputs: 6, Seed: 1}, nil)
	active := []int{1, 2, 4, 5}
	y := make([]int, 4000)
	for i := range y {
		y[i] = active[i%4]
	}
	l.negatives(batchOf(nn.Matrix{}, y, l.outputs, active), active)
	count := map[[2]int]int{}
	for i, c := range l.yNeg {
		if c == y[i] || !slices.Contains(active, c) {
			t.Fatalf("row %d: label %d, negative %d, active %v", i, y[i], c, active)
		}
		count[[2]int{y[i], c}]++
	}
	for pair, n := range count {
		// 1000 rows per true label, three wrong labels: 333 each.
		if n < 280 || n > 390 {
			t.Errorf("true label %d drew negative %d %d times of 1000, want about 333", pair[0], pair[1], n)
		}
	}
	if len(count) != 12 {
		t.Errorf("%d (true, negative) pairs drawn, want 12", len(count))
	}
}

// The label goes into the first slots, one per output (neutral: an equal
// share in each), and the row is then divided by its root mean square.
func TestEmbed(t *testing.T) {
	l := newLearner(t, methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 6}, Outputs: 3, Seed: 1},
		func(s *Settings) { s.LabelScale = 2 })
	x := nn.Matrix{Rows: 2, Cols: 6, Data: []float32{9, 9, 9, 1, 2, 3, 9, 9, 9, 1, 2, 3}}
	got := l.embed(nn.Matrix{}, x, []int{1, -1})
	for i, want := range [][]float64{{0, 2, 0, 1, 2, 3}, {2.0 / 3, 2.0 / 3, 2.0 / 3, 1, 2, 3}} {
		ss := 0.0
		for _, v := range want {
			ss += v * v
		}
		rms := math.Sqrt(ss / 6)
		for j, v := range want {
			if g := float64(got.Row(i)[j]); math.Abs(g-v/rms) > 1e-6 {
				t.Errorf("row %d slot %d: %g, want %g", i, j, g, v/rms)
			}
		}
	}
	if x.Data[0] != 9 {
		t.Error("embed wrote over its input")
	}
}

// The one-pass softmax readout learns the toy problem too.
func TestSoftmaxReadout(t *testing.T) {
	ds := blobs(t)
	p := methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 1}
	l := newLearner(t, p, func(s *Settings) { s.Inference = InferSoftmax })
	var last methods.EpochStats
	if err := l.Learn(context.Background(), ds.Train, []int{0, 1, 2, 3}, methods.ObserverFunc(func(e methods.EpochStats) { last = e })); err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(last.TrainAcc) {
		t.Error("the readout's training accuracy is not reported")
	}
	scores := l.Scores(matrix(ds.Test), []int{0, 1, 2, 3})
	correct := 0
	for i, y := range ds.Test.Y {
		r := scores.Row(i)
		if slices.Index(r, slices.Max(r)) == y {
			correct++
		}
	}
	if acc := 100 * float64(correct) / float64(len(ds.Test.Y)); acc < 95 {
		t.Errorf("readout test accuracy %.1f%%, want ≥ 95%%", acc)
	}
}

func TestNeedsTwoLabels(t *testing.T) {
	ds := blobs(t)
	l := newLearner(t, methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 1}, nil)
	var idx []int
	for i, y := range ds.Train.Y {
		if y == 2 {
			idx = append(idx, i)
		}
	}
	err := l.Learn(context.Background(), ds.Train.Subset(idx), []int{2}, nil)
	if err == nil || !strings.Contains(err.Error(), "wrong label") {
		t.Errorf("Learn with one active output: %v", err)
	}
	for _, tc := range []struct {
		p    methods.Problem
		want string
	}{
		{methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 3}, Outputs: 4}, "cannot hold the one-hot label"},
		{methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 3}, Outputs: 1}, "at least 2 labels"},
	} {
		if _, err := NewLearner(tc.p, DefaultSettings()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error saying %q", tc.p, err, tc.want)
		}
	}
	s := DefaultSettings()
	s.Hidden = []int{10}
	if _, err := NewLearner(methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 10}, Outputs: 2}, s); err == nil || !strings.Contains(err.Error(), "score_from") {
		t.Errorf("score_from 2 with one layer: %v", err)
	}
}

// batchOf is a minibatch whose rows share the active outputs of a learner
// with the given number of outputs.
func batchOf(x nn.Matrix, y []int, outputs int, active []int) methods.Batch {
	mask, _, err := methods.ActiveMask(outputs, active)
	if err != nil {
		panic(err)
	}
	return methods.Batch{X: x, Y: y, Mask: mask}
}
