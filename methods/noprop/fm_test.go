package noprop

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// newTestFM builds a NoProp-FM learner for ds.
func newTestFM(t testing.TB, ds tasks.Dataset, seed uint64, settings string) *FMLearner {
	t.Helper()
	return newTestRule[*FMLearner](t, FMMethod, ds, seed, settings)
}

// linearField sets the weights of a network with one-hot embeddings (d =
// m) and hidden ≥ 4d so that it computes v(z, x, t) = λ·z + c whatever x and
// t: the z path holds [relu(z), relu(−z)], the fusion passes them on and its
// last layer takes λ·(relu(z) − relu(−z)) + c.
func linearField(t *testing.T, net *Net, d int, lambda float32, c []float32) {
	t.Helper()
	for _, p := range net.Params() {
		clear(p.Value)
	}
	h := net.hidden
	if h < 4*d {
		t.Fatalf("hidden %d < 4·%d", h, d)
	}
	lab := net.lab.(*nn.Sequential).Layers[0].(*nn.Linear) // d → h
	for j := range d {
		lab.W.Value[j*h+j] = 1
		lab.W.Value[j*h+d+j] = -1
	}
	wz := net.firstBlock(1, false) // h → h, z block of the first fusion layer
	for k := range 2 * d {
		wz.Data[k*h+k] = 1
	}
	l2 := net.rest.Layers[1].(*nn.Linear) // h → h/2
	for k := range 2 * d {
		l2.W.Value[k*l2.Out+k] = 1
	}
	l3 := net.rest.Layers[3].(*nn.Linear) // h/2 → m
	for j := range d {
		l3.W.Value[j*d+j] = lambda
		l3.W.Value[(d+j)*d+j] = -lambda
	}
	copy(l3.B.Value, c)
}

// TestEulerLinearField integrates the field v = λz + c with the learner's
// Euler solver: N steps of size h = 1/N give z_N = rᴺ z_0 + h·c·(1 − rᴺ)/(1 −
// r), r = 1 + λh, the closed form of Euler on a linear ODE (not the exact
// flow e^λ z_0 + c(e^λ − 1)/λ, which differs by several percent at N = 7).
// The scores are −‖z_1 − u_y‖², whose arg-max is the nearest embedding.
func TestEulerLinearField(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 3, TrainPer: 2, TestPer: 50,
		Shape: tasks.Shape{C: 1, H: 1, W: 5}, Noise: 0.3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	const N, lambda = 7, -1.5
	c := []float32{0.4, -0.2, 1.1}
	l := newTestFM(t, ds, 1, `{"encoder":"mlp","hidden":12,"timesteps":7,"eval_batch":200}`)
	linearField(t, l.net, 3, lambda, c)
	x := setMatrix(ds.Test)
	z := l.euler(x, streamNoise{nn.NewRNG(8)}, N)
	z0 := nn.NewMatrix(x.Rows, 3)
	nn.NewRNG(8).FillNormal(z0.Data, 1)
	h := 1.0 / N
	r := 1 + lambda*h
	rN := math.Pow(r, N)
	for i := range z.Rows {
		for j, v := range z.Row(i) {
			want := rN*float64(z0.Row(i)[j]) + h*float64(c[j])*(1-rN)/(1-r)
			if math.Abs(float64(v)-want) > 1e-5 {
				t.Fatalf("z_1[%d][%d] = %.7g, Euler's closed form %.7g", i, j, v, want)
			}
		}
	}
	l.SetInferenceSeed(2)
	s := l.Scores(x, nil)
	for i := range s.Rows {
		zr := l.zA.Row(i) // z_1 of Scores' one chunk
		if nearestClass(zr, l.embed, nil) != argmaxActive(s.Row(i), nil) {
			t.Fatalf("row %d: scores %v do not pick the nearest embedding to %v", i, s.Row(i), zr)
		}
	}
}

// TestFMStepGradients checks the gradient of a whole training step, with
// the noise held fixed, against finite differences of its loss: for a
// learned or prototype W_Embed (target, output stage logits·W_Embed, the
// path through z_t and the anchor CE on z̃_1), θ_out and some of θ; with
// one-hot, θ alone.
func TestFMStepGradients(t *testing.T) {
	ds := blobs(t, 4)
	for _, emb := range []string{EmbedOneHot, EmbedLearned, EmbedPrototype} {
		l := newTestFM(t, ds, 2, `{"encoder":"mlp","hidden":8,"embed_dim":5,"sigma":0.3,"eta":0.3,"embedding":"`+emb+`"}`)
		if err := l.embed.Meet(ds.Train, allOutputs(4)); err != nil {
			t.Fatal(err)
		}
		x, y := setMatrix(ds.Train), ds.Train.Y
		loss := func() float64 {
			l.noise = nn.NewRNG(11)
			clearGrads(l.params)
			v, _ := l.lossGrad(methods.Batch{X: x, Y: y, Mask: allActive(4)})
			return v
		}
		loss()
		grads := map[*nn.Param][]float32{}
		for _, p := range l.params {
			grads[p] = append([]float32(nil), p.Grad...)
		}
		check := append(l.net.Params()[:2:2], l.net.Params()[len(l.net.Params())-2:]...)
		if l.embed.Learned() {
			check = append(check, l.embed.W)
			check = append(check, l.head.Params()...)
		}
		for _, p := range check {
			fdCheck(t, emb+" "+p.Name, p.Value, grads[p], loss, 1e-3, 3e-2)
		}
	}
}

// TestFMEtaWeightsTheFlowTerm: with the noise held fixed, the terms do not
// depend on η and the loss is η·flow + CE.
func TestFMEtaWeightsTheFlowTerm(t *testing.T) {
	ds := blobs(t, 4)
	x, y := setMatrix(ds.Train), ds.Train.Y
	var flow, ce float64
	for i, eta := range []float64{1, 0.25, 4} {
		l := newTestFM(t, ds, 2, fmt.Sprintf(`{"encoder":"mlp","hidden":8,"embed_dim":5,"embedding":"learned","eta":%g}`, eta))
		l.noise = nn.NewRNG(11)
		loss, _ := l.lossGrad(methods.Batch{X: x, Y: y, Mask: allActive(4)})
		if i == 0 {
			flow, ce = l.terms[0], l.terms[1]
		}
		if l.terms[0] != flow || l.terms[1] != ce || ce == 0 {
			t.Fatalf("η %g: terms flow %g, CE %g; at η 1 %g, %g", eta, l.terms[0], l.terms[1], flow, ce)
		}
		if want := eta*flow + ce; math.Abs(loss-want) > 1e-9*want {
			t.Errorf("η %g: loss %g, want η·flow + CE = %g", eta, loss, want)
		}
	}
}

// TestFMLearnBlobs trains on the synthetic blobs with the mlp encoder and
// every embedding kind and checks test accuracy and the reported training
// accuracy.
func TestFMLearnBlobs(t *testing.T) {
	ds := blobs(t, 200)
	for _, emb := range []string{EmbedOneHot, EmbedLearned, EmbedPrototype} {
		l := newTestFM(t, ds, 1, `{"encoder":"mlp","batch_size":32,"epochs":15,"lr":0.005,"hidden":64,"timesteps":50,"embedding":"`+emb+`"}`)
		var log []methods.EpochStats
		obs := methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })
		if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
			t.Fatal(err)
		}
		l.SetInferenceSeed(1)
		acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
		t.Logf("%s: test accuracy %.1f%%, last pass %+v", emb, acc, log[len(log)-1])
		if acc < 90 {
			t.Errorf("%s: test accuracy %.1f%%, want ≥ 90%%", emb, acc)
		}
		if last := log[len(log)-1]; math.IsNaN(last.TrainAcc) || last.TrainAcc < 70 {
			t.Errorf("%s: training accuracy of the last pass %v, want it measured and ≥ 70%%", emb, last.TrainAcc)
		}
	}
}

// TestFMCollapseReported: a run whose network dies after twelve passes
// reports training accuracy at chance for the next pass, and the shared
// guard stops Learn with methods.ErrCollapsed.
func TestFMCollapseReported(t *testing.T) {
	ds := blobs(t, 200)
	l := newTestFM(t, ds, 1, `{"encoder":"mlp","batch_size":32,"epochs":16,"lr":0.005,"hidden":64,"timesteps":10}`)
	checkCollapse(t, l, l.continuous, ds, 12, 70, 32)
}
