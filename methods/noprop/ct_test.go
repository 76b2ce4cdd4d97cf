package noprop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// newTestRule builds a learner of method m for ds from settings.
func newTestRule[L methods.Learner](t testing.TB, m methods.Method, ds tasks.Dataset, seed uint64, settings string) L {
	t.Helper()
	l, err := m.New(methods.Problem{Input: ds.Train.Shape, Outputs: ds.NumClasses, Seed: seed}, json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	return l.(L)
}

// newTestCT builds a NoProp-CT learner for ds.
func newTestCT(t testing.TB, ds tasks.Dataset, seed uint64, settings string) *CTLearner {
	t.Helper()
	return newTestRule[*CTLearner](t, CTMethod, ds, seed, settings)
}

// allActive is a mask with all m outputs set.
func allActive(m int) []bool {
	mask := make([]bool, m)
	for i := range mask {
		mask[i] = true
	}
	return mask
}

// curveSchedule scrambles a learned schedule's network so that γ̄ is far
// from linear, keeping its end points.
func curveSchedule(s *LearnedSchedule, seed uint64) {
	rng := nn.NewRNG(seed)
	rng.FillNormal(s.In.Value, 4)
	rng.FillNormal(s.Bias.Value, 2)
	rng.FillNormal(s.Out.Value, 3)
}

// TestCTTrainingMarginal: the noisy labels NoProp-CT trains on follow
// q(z_t|y) = N(√ᾱ(t)·u_y, (1−ᾱ(t)) I) at each example's own t: over many
// draws of a training minibatch, (z_t − √ᾱ(t)·u_y)/√(1−ᾱ(t)) has mean 0 and
// variance 1 in every coordinate, for one-hot and learned embeddings and a
// curved schedule. A sampler built as ᾱ·u_y + √(1−ᾱ)·ε (the bug of a public
// reimplementation) shifts the label coordinate's mean by several
// standard errors; a variance of 1−ᾱ² or ᾱ instead of 1−ᾱ moves the
// variance.
func TestCTTrainingMarginal(t *testing.T) {
	const n = 20000
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: n / 4, TestPer: 1,
		Shape: tasks.Shape{C: 1, H: 1, W: 6}, Noise: 0.3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, emb := range []string{EmbedOneHot, EmbedLearned} {
		l := newTestCT(t, ds, 1, `{"encoder":"mlp","hidden":4,"schedule_hidden":8,"embedding":"`+emb+`","embed_dim":5}`)
		curveSchedule(l.sched, 3)
		x, y := setMatrix(ds.Train), ds.Train.Y
		l.lossGrad(methods.Batch{X: x, Y: y, Mask: allActive(4)})
		pts := make([]SchedulePoint, n)
		l.sched.Eval(l.ts, pts)
		e := l.embed
		var onLabel, offLabel [2]float64 // Σ r, Σ r² over the label's coordinates (learned: all)
		var cnt [2]float64
		for i, c := range y {
			sa, sb := math.Sqrt(pts[i].AlphaBar), math.Sqrt(pts[i].OneMinus)
			for j, v := range l.z.Row(i) {
				r := (float64(v) - sa*float64(e.Row(c)[j])) / sb
				k := 1
				if emb == EmbedLearned || j == c {
					k = 0
				}
				onLabel[k] += r
				offLabel[k] += r * r
				cnt[k]++
			}
		}
		for k := range 2 {
			if cnt[k] == 0 {
				continue
			}
			mean := onLabel[k] / cnt[k]
			variance := offLabel[k]/cnt[k] - mean*mean
			// Standard errors: 1/√cnt for the mean, √(2/cnt) for the variance;
			// allow five.
			if math.Abs(mean) > 5/math.Sqrt(cnt[k]) || math.Abs(variance-1) > 5*math.Sqrt(2/cnt[k]) {
				t.Errorf("%s, coordinates %d: standardised z_t has mean %.4f and variance %.4f over %v draws, want 0 and 1",
					emb, k, mean, variance, cnt[k])
			}
		}
	}
}

// TestCTChainMarginal runs the inference chain with a network that predicts
// u_y exactly, on a 50-step grid of a curved schedule. The Eq. 3 update with
// the posterior's a, b, c then samples the forward process, so z_1 must
// follow q(z_1|y) = N(√ᾱ(1) u_y, (1−ᾱ(1)) I) whatever the grid: dropping b,
// the noise, or the square root of ᾱ moves it far outside the tolerance.
func TestCTChainMarginal(t *testing.T) {
	ds := blobs(t, 4)
	l := newTestCT(t, ds, 1, `{"encoder":"mlp","hidden":8,"schedule_hidden":8,"gamma0":-2.5,"gamma1":3}`)
	curveSchedule(l.sched, 5)
	predictClass(l.net, 2)
	const n = 20000
	x := nn.NewMatrix(n, ds.Train.Shape.Size())
	nn.NewRNG(4).FillUniform(x.Data, 1)
	z := l.chain(x, nil, ctSteps(l.sched.Grid(50), InferenceAncestral), streamNoise{nn.NewRNG(5)}, true)
	ab1 := l.sched.At(1).AlphaBar
	if want := 1 / (1 + math.Exp(-2.5)); math.Abs(ab1-want) > 1e-6 {
		t.Fatalf("ᾱ(1) = %v, want sigmoid(2.5) = %v", ab1, want)
	}
	for j := range z.Cols {
		mean, sq := 0.0, 0.0
		for i := range z.Rows {
			v := float64(z.Row(i)[j])
			mean += v
			sq += v * v
		}
		mean /= n
		variance := sq/n - mean*mean
		wantMean, wantVar := 0.0, 1-ab1
		if j == 2 {
			wantMean = math.Sqrt(ab1)
		}
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/n) {
			t.Errorf("z_1[%d]: mean %.4f, want %.4f", j, mean, wantMean)
		}
		if math.Abs(variance-wantVar) > 5*wantVar*math.Sqrt(2.0/n) {
			t.Errorf("z_1[%d]: variance %.5f, want %.5f", j, variance, wantVar)
		}
	}
}

// predictClass makes a CT network predict û = u_c whatever its input: its
// last layer ignores its input and puts all probability on class c, to
// float32 precision.
func predictClass(net *Net, c int) {
	last := net.rest.Layers[len(net.rest.Layers)-1].(*nn.Linear)
	clear(last.W.Value)
	for j := range last.B.Value {
		last.B.Value[j] = -40
	}
	last.B.Value[c] = 40
}

// TestCTDDIMChain: with a network that predicts u_y exactly, the DDIM
// update keeps z − √ᾱ·u_y a fixed multiple of the noise, so after any grid
// z_1 = √ᾱ(1)·u_y + √((1−ᾱ(1))/(1−ᾱ(0)))·(z_0 − √ᾱ(0)·u_y) for every
// sample.
func TestCTDDIMChain(t *testing.T) {
	ds := blobs(t, 4)
	l := newTestCT(t, ds, 1, `{"encoder":"mlp","hidden":8,"schedule_hidden":8,"gamma0":-2.5,"gamma1":3,"inference":"ddim"}`)
	curveSchedule(l.sched, 5)
	predictClass(l.net, 1)
	x := setMatrix(ds.Test)
	z := l.chain(x, nil, ctSteps(l.sched.Grid(37), l.s.Inference), streamNoise{nn.NewRNG(5)}, true)
	z0 := nn.NewMatrix(x.Rows, 4)
	nn.NewRNG(5).FillNormal(z0.Data, 1)
	p0, p1 := l.sched.At(0), l.sched.At(1)
	c := math.Sqrt(p1.OneMinus / p0.OneMinus)
	for i := range z.Rows {
		for j, v := range z.Row(i) {
			u := 0.0
			if j == 1 {
				u = 1
			}
			want := math.Sqrt(p1.AlphaBar)*u + c*(float64(z0.Row(i)[j])-math.Sqrt(p0.AlphaBar)*u)
			if math.Abs(float64(v)-want) > 1e-4 {
				t.Fatalf("z_1[%d][%d] = %.6g, want %.6g", i, j, v, want)
			}
		}
	}
}

// TestCTCachedChain: the chain that computes the image features once per
// example (what Scores runs) gives the scores of the chain that runs the
// whole network at every step, for the conv network, to float32 rounding,
// and the same classes.
func TestCTCachedChain(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 16, TestPer: 16,
		Shape: tasks.Shape{C: 1, H: 14, W: 14}, Noise: 0.3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l := newTestCT(t, ds, 2, `{"hidden":16,"schedule_hidden":8,"iterations":4,"batch_size":16}`)
	if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
		t.Fatal(err)
	}
	x := setMatrix(ds.Test)
	steps := ctSteps(l.sched.Grid(40), InferenceAncestral)
	var scores [2]nn.Matrix
	for k, cached := range []bool{true, false} {
		z := l.chain(x, nil, steps, streamNoise{nn.NewRNG(9)}, cached)
		scores[k] = nn.NewMatrix(x.Rows, 4)
		nn.LogSoftmaxRows(scores[k], l.head.Forward(z, nil, false))
	}
	for i := range x.Rows {
		a, b := scores[0].Row(i), scores[1].Row(i)
		for j := range a {
			if math.Abs(float64(a[j]-b[j])) > 1e-4*math.Max(1, math.Abs(float64(b[j]))) {
				t.Fatalf("row %d: cached score %v, uncached %v", i, a, b)
			}
		}
		if argmaxActive(a, nil) != argmaxActive(b, nil) {
			t.Errorf("row %d: cached and uncached chains choose different classes", i)
		}
	}
}

// TestCTStepGradients checks the gradient of a whole training step, with
// the noise held fixed, against finite differences of its loss: θ_out, a
// learned or prototype W_Embed (target, output stage, the paths through
// z_t and z_1, the KL), the schedule's parameters (through SNR′, through
// ᾱ in z_t and z_1, and the KL's ᾱ(0)) and some of θ.
func TestCTStepGradients(t *testing.T) {
	ds := blobs(t, 4)
	for _, tc := range []struct{ embedding, head string }{
		{EmbedOneHot, HeadSoftmax},
		{EmbedLearned, HeadSoftmax},
		{EmbedLearned, HeadPosterior},
		{EmbedPrototype, HeadSoftmax},
	} {
		name := tc.embedding + "/" + tc.head
		l := newTestCT(t, ds, 2, `{"encoder":"mlp","hidden":8,"schedule_hidden":4,"embed_dim":5,"gamma0":-2,"gamma1":1.5,`+
			`"embedding":"`+tc.embedding+`","head":"`+tc.head+`"}`)
		if err := l.embed.Meet(ds.Train, allOutputs(4)); err != nil {
			t.Fatal(err)
		}
		curveSchedule(l.sched, 6)
		x, y, mask := setMatrix(ds.Train), ds.Train.Y, allActive(4)
		all := append(append([]*nn.Param(nil), l.params...), l.sched.Params()...)
		loss := func() float64 {
			l.noise = nn.NewRNG(11)
			clearGrads(all)
			v, _ := l.lossGrad(methods.Batch{X: x, Y: y, Mask: mask})
			return v
		}
		loss()
		grads := map[*nn.Param][]float32{}
		for _, p := range all {
			grads[p] = append([]float32(nil), p.Grad...)
		}
		check := l.sched.Params()
		check = append(check, l.head.Params()...)
		check = append(check, l.net.Params()[:2]...)
		check = append(check, l.net.Params()[len(l.net.Params())-2:]...)
		if l.embed.Learned() {
			check = append(check, l.embed.W)
		}
		for _, p := range check {
			fdCheck(t, name+" "+p.Name, p.Value, grads[p], loss, 1e-3, 3e-2)
		}
	}
}

// TestCTLearnBlobs trains on the synthetic blobs with the mlp encoder and
// every embedding kind and checks test accuracy, and that the schedule
// moved and still rises.
func TestCTLearnBlobs(t *testing.T) {
	ds := blobs(t, 200)
	for _, emb := range []string{EmbedOneHot, EmbedLearned, EmbedPrototype} {
		l := newTestCT(t, ds, 1, `{"encoder":"mlp","batch_size":32,"epochs":30,"lr":0.005,"hidden":64,"schedule_hidden":64,"timesteps":50,"embedding":"`+emb+`"}`)
		var log []methods.EpochStats
		obs := methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })
		if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
			t.Fatal(err)
		}
		l.SetInferenceSeed(1)
		acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
		g0, g1 := l.sched.Ends()
		t.Logf("%s: test accuracy %.1f%%, last pass %+v, γ_0 %.3f, γ_1 %.3f", emb, acc, log[len(log)-1], g0, g1)
		if acc < 90 {
			t.Errorf("%s: test accuracy %.1f%%, want ≥ 90%%", emb, acc)
		}
		if last := log[len(log)-1]; math.IsNaN(last.TrainAcc) || last.TrainAcc < 80 {
			t.Errorf("%s: training accuracy of the last pass %v, want it measured and ≥ 80%%", emb, last.TrainAcc)
		}
		if g0 == -4 || g1 == 4 || !(g1 > g0) {
			t.Errorf("%s: end points γ_0 = %v, γ_1 = %v after training", emb, g0, g1)
		}
	}
}

// TestCTCollapseReported: a run whose network dies after four passes (all
// of θ zeroed, the optimizer unable to revive it) reports training accuracy
// at chance for the next pass, and the shared guard stops Learn with
// methods.ErrCollapsed.
func TestCTCollapseReported(t *testing.T) {
	ds := blobs(t, 100)
	l := newTestCT(t, ds, 1, `{"encoder":"mlp","batch_size":20,"epochs":8,"lr":0.01,"hidden":32,"schedule_hidden":16,"timesteps":10}`)
	checkCollapse(t, l, l.continuous, ds, 4, 80, 30)
}

// checkCollapse runs Learn on ds with an observer that kills the network
// (killNetwork) after pass kill, and expects the next pass to report a
// training accuracy of at most after (having reported at least before in
// pass kill) and Learn to stop with methods.ErrCollapsed in that pass.
func checkCollapse(t *testing.T, l methods.Learner, c *continuous, ds tasks.Dataset, kill int, before, after float64) {
	t.Helper()
	var log []methods.EpochStats
	obs := methods.ObserverFunc(func(s methods.EpochStats) {
		log = append(log, s)
		if s.Epoch == kill {
			killNetwork(t, c)
		}
	})
	err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs)
	if want := fmt.Sprintf("epoch %d", kill+1); !errors.Is(err, methods.ErrCollapsed) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Learn after the network died: %v (passes %+v), want a collapse in %s", err, log, want)
	}
	if len(log) != kill+1 || log[kill-1].TrainAcc < before || log[kill].TrainAcc > after {
		t.Errorf("training accuracy per pass: %+v", log)
	}
}

// killNetwork zeroes every parameter of the network and gives the learner
// an optimizer that cannot move them again: a network that has collapsed.
func killNetwork(t *testing.T, c *continuous) {
	for _, p := range c.net.Params() {
		clear(p.Value)
	}
	opt, err := methods.Optim{Optimizer: "sgd", LR: 1e-30}.New()
	if err != nil {
		t.Fatal(err)
	}
	c.opt = opt
}

// TestCTSettingsErrors: the settings CT adds are checked with messages
// that name them.
func TestCTSettingsErrors(t *testing.T) {
	for _, c := range []struct{ json, field string }{
		{`{"gamma0":2,"gamma1":1}`, "gamma1"},
		{`{"time_dim":63}`, "time_dim"},
		{`{"time_dim":0}`, "time_dim"},
		{`{"timesteps":0}`, "timesteps"},
		{`{"schedule_hidden":0}`, "schedule_hidden"},
		{`{"schedule_activation":"relu"}`, "schedule_activation"},
		{`{"schedule_lr":-1}`, "schedule_lr"},
		{`{"eta":0}`, "eta"},
		{`{"inference":"euler"}`, "inference"},
		{`{"bn_momentum":0.1}`, "bn_momentum"}, // the CT network has no BatchNorm
	} {
		_, err := methods.Decode(DefaultCTSettings(), json.RawMessage(c.json))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %v, want one naming %s", c.json, err, c.field)
		}
	}
	s, err := methods.Decode(DefaultCTSettings(), CTMethod.Presets["paper-cifar100"])
	if err != nil || s.Epochs != 1000 || s.Timesteps != 1000 || s.Eta != 1 || s.Optimizer != "adam" {
		t.Errorf("paper-cifar100: %+v, %v", s, err)
	}
}

// TestCTLossPinned recomputes a training step's loss from its samples,
// independently of the code that weighs it: (η/2)·mean_i SNR′(t_i)·‖û_i −
// u_{y_i}‖² with SNR′ a finite difference of SNR = ᾱ/(1−ᾱ), plus the
// head's CE on the step's z_1, plus KL(N(√ᾱ(0) u_y, 1−ᾱ(0)) ‖ N(0, I)) in
// closed form with ᾱ(0) = sigmoid(−γ_1). Dropping η, the ½ or SNR′ from
// the L2 weight fails here.
func TestCTLossPinned(t *testing.T) {
	ds := blobs(t, 16)
	l := newTestCT(t, ds, 3, `{"encoder":"mlp","hidden":16,"schedule_hidden":8,"eta":0.7}`)
	curveSchedule(l.sched, 2)
	x, y := setMatrix(ds.Train), ds.Train.Y
	got, _ := l.lossGrad(methods.Batch{X: x, Y: y, Mask: allActive(4)})
	z := nn.NewMatrix(l.z.Rows, l.z.Cols)
	copy(z.Data, l.z.Data)
	u := l.net.Forward(x, z, l.tcol, allActive(4), false)
	snr := func(t float64) float64 { p := l.sched.At(t); return p.AlphaBar / (1 - p.AlphaBar) }
	l2 := 0.0
	for i, c := range y {
		ti := l.ts[i]
		h := 1e-6
		w := (snr(min(ti+h, 1)) - snr(max(ti-h, 0))) / (min(ti+h, 1) - max(ti-h, 0))
		sq := 0.0
		for j, v := range u.Row(i) {
			target := 0.0
			if j == c {
				target = 1
			}
			sq += (float64(v) - target) * (float64(v) - target)
		}
		l2 += 0.5 * 0.7 * w * sq / float64(len(y))
	}
	var xent nn.SoftmaxCrossEntropy
	ce := xent.Forward(l.head.Forward(l.z1, nil, false), y, nil)
	g0, g1 := l.sched.Ends()
	a0 := 1 / (1 + math.Exp(g1))
	kl := 0.5 * (a0*1 - 4*a0 - 4*math.Log(1-a0)) // one-hot: ‖u_y‖² = 1, d = 4
	if want := l2 + ce + kl; math.Abs(got-want) > 1e-3*want {
		t.Errorf("loss %.6g, want L2 %.6g + CE %.6g + KL %.6g = %.6g (γ_0 %.3g)", got, l2, ce, kl, want, g0)
	}
}
