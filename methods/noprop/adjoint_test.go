package noprop

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// newTestAdjoint builds an Adjoint learner for ds.
func newTestAdjoint(t testing.TB, ds tasks.Dataset, seed uint64, settings string) *AdjointLearner {
	t.Helper()
	return newTestRule[*AdjointLearner](t, AdjointMethod, ds, seed, settings)
}

// TestAdjointGradients checks the gradient of the cross-entropy through the
// whole Euler solve (back-propagation through the discretised solver, the
// image share summed over the steps) against finite differences of the
// loss, with z_0 held fixed: every tensor of θ (a sample of entries), θ_out
// and a learned or prototype W_Embed, for the mlp and conv encoders.
func TestAdjointGradients(t *testing.T) {
	conv, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 2, TestPer: 1,
		Shape: tasks.Shape{C: 1, H: 14, W: 14}, Noise: 0.3, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ds       tasks.Dataset
		settings string
	}{
		{"mlp one-hot", blobs(t, 2), `{"encoder":"mlp"}`},
		{"mlp learned", blobs(t, 2), `{"encoder":"mlp","embedding":"learned","embed_dim":5}`},
		{"mlp prototype", blobs(t, 2), `{"encoder":"mlp","embedding":"prototype"}`},
		{"conv one-hot", conv, `{"encoder":"conv","dropout":0}`},
	} {
		var s map[string]any
		_ = json.Unmarshal([]byte(tc.settings), &s)
		s["hidden"], s["timesteps"] = 8, 4
		raw, _ := json.Marshal(s)
		l := newTestAdjoint(t, tc.ds, 2, string(raw))
		if err := l.embed.Meet(tc.ds.Train, allOutputs(4)); err != nil {
			t.Fatal(err)
		}
		x, y := setMatrix(tc.ds.Train), tc.ds.Train.Y
		z0 := nn.NewMatrix(x.Rows, l.embed.D)
		nn.NewRNG(10).FillNormal(z0.Data, 1)
		loss := func() float64 {
			l.zs[0] = nn.Resize(l.zs[0], x.Rows, l.embed.D)
			copy(l.zs[0].Data, z0.Data)
			clearGrads(l.params)
			v, _ := l.lossGrad(methods.Batch{X: x, Y: y, Mask: allActive(4)})
			return v
		}
		loss()
		grads := map[*nn.Param][]float32{}
		for _, p := range l.params {
			grads[p] = append([]float32(nil), p.Grad...)
		}
		for _, p := range l.params {
			fdCheck(t, tc.name+" "+p.Name, p.Value, grads[p], loss, 1e-3, 3e-2)
		}
	}
}

// TestAdjointLearnBlobs trains on the synthetic blobs with the mlp encoder
// and checks test accuracy and the reported training accuracy.
func TestAdjointLearnBlobs(t *testing.T) {
	ds := blobs(t, 200)
	for _, emb := range []string{EmbedOneHot, EmbedLearned} {
		l := newTestAdjoint(t, ds, 1, `{"encoder":"mlp","batch_size":32,"epochs":10,"lr":0.005,"hidden":32,"timesteps":10,"embedding":"`+emb+`"}`)
		var log []methods.EpochStats
		obs := methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })
		if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
			t.Fatal(err)
		}
		l.SetInferenceSeed(1)
		acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
		t.Logf("%s: test accuracy %.1f%%, last pass %+v", emb, acc, log[len(log)-1])
		if acc < 95 || log[len(log)-1].TrainAcc < 90 {
			t.Errorf("%s: test accuracy %.1f%%, training accuracy %.1f%%, want ≥ 95%% and ≥ 90%%", emb, acc, log[len(log)-1].TrainAcc)
		}
	}
}
