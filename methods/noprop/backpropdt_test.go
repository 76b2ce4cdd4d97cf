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

func newTestBPDT(t testing.TB, ds tasks.Dataset, seed uint64, settings string) *BackpropDTLearner {
	t.Helper()
	p := methods.Problem{Input: ds.Train.Shape, Outputs: ds.NumClasses, Seed: seed}
	l, err := BackpropDTMethod.New(p, json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	return l.(*BackpropDTLearner)
}

func TestBackpropDTSettingsDefaults(t *testing.T) {
	s, err := methods.Decode(DefaultBackpropDTSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s != DefaultBackpropDTSettings() {
		t.Errorf("empty settings differ from the defaults: %+v", s)
	}
	// Table 4's Backprop row (MNIST).
	if s.Timesteps != 10 || s.BatchSize != 128 || s.Epochs != 100 || s.Optimizer != "adamw" ||
		s.LR != 1e-3 || s.WeightDecay != 1e-3 || s.Encoder != EncoderConv || s.Embedding != EmbedOneHot {
		t.Errorf("defaults are not Table 4's: %+v", s)
	}
	raw, err := json.Marshal(BackpropDTMethod.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if back, err := methods.Decode(DefaultBackpropDTSettings(), raw); err != nil || back != s {
		t.Errorf("defaults do not round-trip: %v, %+v", err, back)
	}
	for name, p := range BackpropDTMethod.Presets {
		if err := BackpropDTMethod.Check(p); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	if q, _ := methods.Decode(DefaultBackpropDTSettings(), BackpropDTMethod.Presets["quick"]); q.Encoder != EncoderMLP || q.Epochs != 1 {
		t.Errorf("quick preset: %+v", q)
	}
	if p, _ := methods.Decode(DefaultBackpropDTSettings(), BackpropDTMethod.Presets["paper"]); p.Encoder != EncoderConv || p.Epochs != 100 {
		t.Errorf("paper preset: %+v", p)
	}
	// NoProp-DT-only fields are unknown here.
	if err := BackpropDTMethod.Check(json.RawMessage(`{"eta":0.1}`)); err == nil {
		t.Error("eta accepted")
	}
}

func TestBackpropDTSettingsErrors(t *testing.T) {
	cases := []struct{ json, field string }{
		{`{"encoder":"resnet"}`, "encoder"},
		{`{"embedding":"random"}`, "embedding"},
		{`{"embed_dim":0}`, "embed_dim"},
		{`{"prototype_subset":1}`, "prototype_subset"},
		{`{"timesteps":0}`, "timesteps"},
		{`{"batch_size":1}`, "batch_size"},
		{`{"epochs":-1}`, "epochs"},
		{`{"iterations":-1}`, "iterations"},
		{`{"epochs":0,"iterations":0}`, "epochs"},
		{`{"optimizer":"lion"}`, "optimizer"},
		{`{"lr":0}`, "lr"},
		{`{"lr":-1}`, "lr"},
		{`{"weight_decay":-1e-3}`, "weight_decay"},
		{`{"init":"zeros"}`, "init"},
		{`{"dropout":1}`, "dropout"},
		{`{"dropout":-0.1}`, "dropout"},
		{`{"bn_momentum":0}`, "bn_momentum"},
		{`{"bn_momentum":1.5}`, "bn_momentum"},
		{`{"hidden":1}`, "hidden"},
		{`{"eval_batch":-1}`, "eval_batch"},
		{`{"alpha_init":0}`, "alpha_init"},
		{`{"alpha_init":1}`, "alpha_init"},
		{`{"alpha_init":-0.5}`, "alpha_init"},
		{`{"head":"softmax"}`, "head"},            // unknown field
		{`{"epochs":1} {"epochs":2}`, "trailing"}, // trailing data
	}
	for _, c := range cases {
		_, err := methods.Decode(DefaultBackpropDTSettings(), json.RawMessage(c.json))
		if err == nil {
			t.Errorf("%s: accepted", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %s", c.json, err, c.field)
		}
	}
	// Zero epochs with an iteration budget is fine.
	if _, err := methods.Decode(DefaultBackpropDTSettings(), json.RawMessage(`{"epochs":0,"iterations":5}`)); err != nil {
		t.Error(err)
	}
	// The conv stack needs large enough images.
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 20}, Outputs: 4}
	if _, err := BackpropDTMethod.New(p, json.RawMessage(`{"encoder":"conv"}`)); err == nil || !strings.Contains(err.Error(), "encoder") {
		t.Errorf("conv on 1×20 images: %v", err)
	}
}

// TestBackpropDTGradients checks the whole chain's gradient against central
// differences of the CE loss with z_0 held fixed: dL/dw_t for every t and a
// few weights of the first and last blocks, the head and a learned W_Embed.
// The gradient of block 1 crosses every later block, through both the
// (1 − α_t) skip and û_t's z input.
func TestBackpropDTGradients(t *testing.T) {
	ds := blobs(t, 4)
	x, y := setMatrix(ds.Train), ds.Train.Y
	for _, emb := range []string{EmbedOneHot, EmbedLearned} {
		l := newTestBPDT(t, ds, 3, `{"encoder":"mlp","hidden":8,"timesteps":3,"embed_dim":5,"dropout":0,"embedding":"`+emb+`"}`)
		copy(l.w.Value, []float32{0.3, 0.7, 1.1}) // distinct α_t
		mask, act, err := methods.ActiveMask(4, allOutputs(4))
		if err != nil {
			t.Fatal(err)
		}
		l.z[0] = nn.NewMatrix(x.Rows, l.embed.D)
		nn.NewRNG(9).FillNormal(l.z[0].Data, 1)
		loss := func() float64 { return l.xent.Forward(l.forward(x, mask, true), y, act) }
		clearGrads(l.params)
		l.lossGrad(methods.Batch{X: x, Y: y, Mask: mask})
		grads := map[*nn.Param][]float32{}
		for _, p := range l.params {
			grads[p] = append([]float32(nil), p.Grad...)
		}
		fdCheck(t, emb+" w", l.w.Value, grads[l.w], loss, 1e-3, 2e-2)
		for _, p := range l.blocks[0].Params()[:4] {
			fdCheck(t, emb+" block 1 "+p.Name, p.Value, grads[p], loss, 1e-3, 2e-2)
		}
		for _, p := range l.blocks[2].Params()[:4] {
			fdCheck(t, emb+" block 3 "+p.Name, p.Value, grads[p], loss, 1e-3, 2e-2)
		}
		for _, p := range l.head.Params() {
			fdCheck(t, emb+" head "+p.Name, p.Value, grads[p], loss, 1e-3, 2e-2)
		}
		if l.embed.Learned() {
			fdCheck(t, emb+" W_Embed", l.embed.W.Value, grads[l.embed.W], loss, 1e-3, 2e-2)
		}
		for i, g := range grads[l.w] {
			if g == 0 {
				t.Errorf("%s: dL/dw_%d is exactly 0", emb, i+1)
			}
		}
	}
}

// TestBackpropDTLearnBlobs trains on the synthetic blobs with the mlp
// encoder and checks test accuracy and the reports.
func TestBackpropDTLearnBlobs(t *testing.T) {
	ds := blobs(t, 200)
	const epochs = 12
	l := newTestBPDT(t, ds, 1, fmt.Sprintf(`{"encoder":"mlp","batch_size":64,"hidden":32,"epochs":%d}`, epochs))
	var log []methods.EpochStats
	obs := methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })
	if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
		t.Fatal(err)
	}
	acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
	t.Logf("test accuracy %.1f%%, α %.3f, reports %+v", acc, l.Alphas(), log)
	if acc < 95 {
		t.Errorf("test accuracy %.1f%%, want ≥ 95%%", acc)
	}
	if len(log) != epochs {
		t.Fatalf("%d reports, want %d", len(log), epochs)
	}
	for i, s := range log {
		if s.Epoch != i+1 || s.Examples != ds.Train.Len() || !finite(s.Loss) || s.Part != "" {
			t.Errorf("report %d: %+v", i, s)
		}
	}
	if last := log[epochs-1]; last.Loss >= log[0].Loss {
		t.Errorf("loss did not fall: %g → %g", log[0].Loss, last.Loss)
	}
	// Learned α_t moved away from the initial 0.5.
	if a := l.Alphas(); a[len(a)-1] == 0.5 {
		t.Errorf("α_T did not move: %v", a)
	}
}

// TestBackpropDTDeterministic trains twice from the same seed (with a
// learned embedding and an iteration budget that cuts a pass short) and
// expects bit-identical scores, repeatable across calls; another inference
// seed draws another z_0.
func TestBackpropDTDeterministic(t *testing.T) {
	ds := blobs(t, 30)
	const settings = `{"encoder":"mlp","embedding":"learned","embed_dim":6,"batch_size":16,"hidden":16,"timesteps":4,"iterations":11,"eval_batch":50}`
	run := func() (*BackpropDTLearner, nn.Matrix) {
		l := newTestBPDT(t, ds, 5, settings)
		if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
			t.Fatal(err)
		}
		return l, l.Scores(setMatrix(ds.Test), nil)
	}
	l, a := run()
	_, b := run()
	for i := range a.Data {
		if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
			t.Fatalf("score %d differs: %g vs %g", i, a.Data[i], b.Data[i])
		}
	}
	c := l.Scores(setMatrix(ds.Test), nil)
	for i := range a.Data {
		if a.Data[i] != c.Data[i] {
			t.Fatalf("Scores not repeatable at %d: %g vs %g", i, a.Data[i], c.Data[i])
		}
	}
	l.SetInferenceSeed(1)
	d := l.Scores(setMatrix(ds.Test), nil)
	same := true
	for i := range a.Data {
		same = same && a.Data[i] == d.Data[i]
	}
	if same {
		t.Error("another inference seed gives the same scores")
	}
	for _, v := range a.Data {
		if !finite(float64(v)) || v > 0 {
			t.Fatalf("score %g is not a log-probability", v)
		}
	}
}

// TestBackpropDTLearnErrors covers cancellation, bad labels and the NaN
// guard.
func TestBackpropDTLearnErrors(t *testing.T) {
	ds := blobs(t, 10)
	l := newTestBPDT(t, ds, 1, `{"encoder":"mlp","hidden":8,"timesteps":2,"batch_size":8,"epochs":1}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Learn(ctx, ds.Train, allOutputs(4), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if err := l.Learn(context.Background(), ds.Train, []int{0, 1}, nil); err == nil || !strings.Contains(err.Error(), "label") {
		t.Errorf("labels outside the active outputs: %v", err)
	}
	if err := l.Learn(context.Background(), ds.Train, []int{0, 1, 2, 7}, nil); err == nil {
		t.Error("active output 7 of 4 accepted")
	}
	l.w.Value[0] = float32(math.NaN())
	err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil)
	if err == nil || !strings.Contains(err.Error(), "diverged") {
		t.Errorf("NaN loss: %v", err)
	}
}

// TestBackpropDTPrototype runs a prototype embedding (d = image size) and a
// subset of active outputs briefly.
func TestBackpropDTPrototype(t *testing.T) {
	ds := blobs(t, 20)
	l := newTestBPDT(t, ds, 2, `{"encoder":"mlp","embedding":"prototype","hidden":8,"timesteps":2,"batch_size":16,"epochs":2}`)
	var sub tasks.Set
	sub.Shape = ds.Train.Shape
	for i, y := range ds.Train.Y {
		if y < 2 {
			sub.X = append(sub.X, ds.Train.Row(i)...)
			sub.Y = append(sub.Y, y)
		}
	}
	if err := l.Learn(context.Background(), sub, []int{0, 1}, nil); err != nil {
		t.Fatal(err)
	}
	s := l.Scores(setMatrix(ds.Test), nil)
	for _, v := range s.Data {
		if !finite(float64(v)) {
			t.Fatalf("score %g", v)
		}
	}
}

// benchBPDT times one training step (minibatch 128, MNIST shapes): z_0,
// the chain forward, CE, the backward through all T blocks and the AdamW
// step.
func benchBPDT(b *testing.B, settings string) {
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 28, W: 28}, Outputs: 10, Seed: 1}
	lr, err := BackpropDTMethod.New(p, json.RawMessage(settings))
	if err != nil {
		b.Fatal(err)
	}
	l := lr.(*BackpropDTLearner)
	x := nn.NewMatrix(128, 784)
	nn.NewRNG(2).FillUniform(x.Data, 1)
	y := make([]int, 128)
	for i := range y {
		y[i] = i % 10
	}
	mask, _, err := methods.ActiveMask(10, allOutputs(10))
	if err != nil {
		b.Fatal(err)
	}
	for range 2 { // warm up buffers and optimizer state
		if _, err := l.step(methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.step(methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}

func BenchmarkBackpropDTStepMLP(b *testing.B)  { benchBPDT(b, `{"encoder":"mlp"}`) }
func BenchmarkBackpropDTStepConv(b *testing.B) { benchBPDT(b, `{"encoder":"conv"}`) }
