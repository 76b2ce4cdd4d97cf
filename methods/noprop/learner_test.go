package noprop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/methods/nn/gemm"
	"github.com/noprop/noprop/tasks"
)

func TestMain(m *testing.M) {
	gemm.Use()
	os.Exit(m.Run())
}

// blobs is the synthetic problem of the tests: 4 classes of Gaussian blobs
// in 20 dimensions.
func blobs(t testing.TB, trainPer int) tasks.Dataset {
	t.Helper()
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{
		Classes: 4, TrainPer: trainPer, TestPer: 100,
		Shape: tasks.Shape{C: 1, H: 1, W: 20}, Noise: 0.3, Seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func newTestLearner(t testing.TB, ds tasks.Dataset, seed uint64, settings string) *DTLearner {
	t.Helper()
	l, err := DTMethod.New(methods.Problem{Input: ds.Train.Shape, Outputs: ds.NumClasses, Seed: seed}, json.RawMessage(settings))
	if err != nil {
		t.Fatal(err)
	}
	return l.(*DTLearner)
}

func setMatrix(s tasks.Set) nn.Matrix {
	return nn.Matrix{Rows: s.Len(), Cols: s.Shape.Size(), Data: s.X}
}

// accuracy is the percentage of rows whose arg-max score among active (nil:
// all) is the label.
func accuracy(scores nn.Matrix, y []int, active []int) float64 {
	correct := 0
	for i := range scores.Rows {
		row := scores.Row(i)
		best := -1
		for j := range row {
			if active != nil && !contains(active, j) {
				continue
			}
			if best < 0 || row[j] > row[best] {
				best = j
			}
		}
		if best == y[i] {
			correct++
		}
	}
	return 100 * float64(correct) / float64(scores.Rows)
}

func contains(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func allOutputs(m int) []int {
	a := make([]int, m)
	for i := range a {
		a[i] = i
	}
	return a
}

// TestLearnBlobs trains on the synthetic blobs with the mlp encoder and
// checks test accuracy.
func TestLearnBlobs(t *testing.T) {
	ds := blobs(t, 200)
	// The parallel order gives the head one step per minibatch, not T: it
	// needs more epochs for the head to separate the (nearly clean) z_T
	// samples. A narrower network keeps that run short.
	for _, tc := range []struct{ order, settings string }{
		{OrderSequential, `"epochs":8`},
		{OrderParallel, `"epochs":30,"hidden":64`},
	} {
		order := tc.order
		t.Run(order, func(t *testing.T) {
			l := newTestLearner(t, ds, 1, fmt.Sprintf(`{"encoder":"mlp","batch_size":64,"train_order":%q,%s}`, order, tc.settings))
			var log []methods.EpochStats
			obs := methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })
			if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
				t.Fatal(err)
			}
			acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
			last := log[len(log)-1]
			t.Logf("%s: test accuracy %.1f%%, %d reports, last %+v", order, acc, len(log), last)
			if acc < 95 {
				t.Errorf("test accuracy %.1f%%, want ≥ 95%%", acc)
			}
		})
	}
}

// TestDeterministic trains twice from the same seed and expects bit-identical
// scores, for both orders and a learned embedding (which couples the blocks
// through W_Embed), with several inference samples.
func TestDeterministic(t *testing.T) {
	ds := blobs(t, 30)
	for _, order := range []string{OrderSequential, OrderParallel} {
		settings := fmt.Sprintf(`{"encoder":"mlp","epochs":2,"batch_size":32,"hidden":32,"embedding":"learned","timesteps":4,"ensemble_chains":2,"eval_batch":50,"train_order":%q}`, order)
		run := func() nn.Matrix {
			l := newTestLearner(t, ds, 9, settings)
			if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
				t.Fatal(err)
			}
			return l.Scores(setMatrix(ds.Test), nil)
		}
		a, b := run(), run()
		for i := range a.Data {
			if a.Data[i] != b.Data[i] {
				t.Fatalf("%s: score %d differs between runs: %v vs %v", order, i, a.Data[i], b.Data[i])
			}
		}
	}
	// The number of workers in the parallel order does not change the result.
	var runs [2]nn.Matrix
	for i, w := range []int{1, 3} {
		l := newTestLearner(t, ds, 9, fmt.Sprintf(`{"encoder":"mlp","epochs":1,"batch_size":32,"hidden":32,"embedding":"learned","timesteps":4,"train_order":"parallel","workers":%d}`, w))
		if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
			t.Fatal(err)
		}
		runs[i] = l.Scores(setMatrix(ds.Test), nil)
	}
	for i := range runs[0].Data {
		if runs[0].Data[i] != runs[1].Data[i] {
			t.Fatalf("parallel order: score %d differs between 1 and 3 workers", i)
		}
	}
	// Scores itself is deterministic, and the inference seed changes it.
	l := newTestLearner(t, ds, 9, `{"encoder":"mlp","epochs":1,"hidden":32,"timesteps":3}`)
	if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
		t.Fatal(err)
	}
	x := setMatrix(ds.Test)
	s1, s2 := l.Scores(x, nil), l.Scores(x, nil)
	l.SetInferenceSeed(1)
	s3 := l.Scores(x, nil)
	same, differ := true, false
	for i := range s1.Data {
		same = same && s1.Data[i] == s2.Data[i]
		differ = differ || s1.Data[i] != s3.Data[i]
	}
	if !same || !differ {
		t.Errorf("Scores repeatable %v (want true), changed by the inference seed %v (want true)", same, differ)
	}
}

// TestActiveMask trains with active = {2, 3} on data of those classes: the
// loss ignores outputs 0 and 1 (the head's and the blocks' softmaxes give
// them probability 0) and the predictions over the active set are right.
func TestActiveMask(t *testing.T) {
	ds := blobs(t, 100)
	var idx []int
	for i, y := range ds.Train.Y {
		if y >= 2 {
			idx = append(idx, i)
		}
	}
	train := ds.Train.Subset(idx)
	active := []int{2, 3}
	// One worker: the last block trained keeps the buffers read below.
	l := newTestLearner(t, ds, 3, `{"encoder":"mlp","epochs":8,"batch_size":32,"hidden":64,"workers":1}`)
	if err := l.Learn(context.Background(), train, active, nil); err != nil {
		t.Fatal(err)
	}
	// The CE and the block softmax saw only classes 2 and 3.
	p := l.xent.Probs()
	for i := range p.Rows {
		if r := p.Row(i); r[0] != 0 || r[1] != 0 {
			t.Fatalf("head probabilities off the active set: %v", r)
		}
	}
	up := l.blocks[len(l.blocks)-1].blk.out.Probs()
	if up.Rows == 0 {
		t.Fatal("the last block holds no output probabilities after training")
	}
	for i := range up.Rows {
		if r := up.Row(i); r[0] != 0 || r[1] != 0 {
			t.Fatalf("block output probabilities off the active set: %v", r)
		}
	}
	sc := l.Scores(setMatrix(train), active)
	for i := range sc.Rows {
		if r := sc.Row(i); r[2] <= float32(math.Inf(-1)) && r[3] <= float32(math.Inf(-1)) {
			t.Fatalf("row %d: no finite score on the active set: %v", i, r)
		}
	}
	if acc := accuracy(sc, train.Y, active); acc < 95 {
		t.Errorf("accuracy over the active set %.1f%%, want ≥ 95%%", acc)
	}
	// Unseen labels are rejected.
	if err := l.Learn(context.Background(), ds.Train, active, nil); err == nil {
		t.Error("Learn accepted labels outside the active set")
	}
}

// TestLearnErrors covers cancellation, divergence and bad inputs.
func TestLearnErrors(t *testing.T) {
	ds := blobs(t, 20)
	l := newTestLearner(t, ds, 1, `{"encoder":"mlp","epochs":1,"hidden":16,"timesteps":2}`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Learn(ctx, ds.Train, allOutputs(4), nil); err != context.Canceled {
		t.Errorf("cancelled Learn returned %v", err)
	}
	if err := l.Learn(context.Background(), ds.Train, []int{0, 9}, nil); err == nil {
		t.Error("active output 9 of 4 accepted")
	}
	bad := ds.Train
	bad.Shape = tasks.Shape{C: 1, H: 1, W: 10}
	if err := l.Learn(context.Background(), bad, allOutputs(4), nil); err == nil {
		t.Error("wrong input shape accepted")
	}
	for _, order := range []string{OrderSequential, OrderParallel} {
		l = newTestLearner(t, ds, 1, `{"encoder":"mlp","epochs":1,"hidden":16,"timesteps":2,"train_order":"`+order+`"}`)
		l.embed.W.Value[0] = float32(math.NaN())
		err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil)
		if err == nil || !strings.Contains(err.Error(), "lower lr") || !strings.Contains(err.Error(), "block 1") {
			t.Errorf("%s: NaN embedding: got %v, want a divergence error naming block 1 and the lr", order, err)
		}
	}
}

// TestIterationsBudget checks that an iteration budget gives every block
// exactly that many steps, in rounds of at most one pass.
func TestIterationsBudget(t *testing.T) {
	ds := blobs(t, 20) // 80 examples, batch 32: 3 steps per pass
	l := newTestLearner(t, ds, 1, `{"encoder":"mlp","iterations":7,"batch_size":32,"hidden":16,"timesteps":2}`)
	steps := map[string]int{}
	obs := methods.ObserverFunc(func(s methods.EpochStats) { steps[s.Part] += s.Examples })
	if err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs); err != nil {
		t.Fatal(err)
	}
	// 7 steps = 3 + 3 + 1 steps of 32, 32, 16 examples (a pass is 32+32+16).
	want := 2*(32+32+16) + 32
	if steps["block 1"] != want || steps["block 2"] != want {
		t.Errorf("examples per block %v, want %d each", steps, want)
	}
}

// TestConvLearns trains the conv encoder on small 3-channel images, with a
// prototype embedding (so z takes the second conv path, gradient included)
// and the posterior head, in both orders: every block's loss must fall and
// the chain must classify the test images.
func TestConvLearns(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{
		Classes: 2, TrainPer: 64, TestPer: 32,
		Shape: tasks.Shape{C: 3, H: 14, W: 14}, Noise: 0.3, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, order := range []string{OrderSequential, OrderParallel} {
		l := newTestLearner(t, ds, 1, `{"encoder":"conv","embedding":"prototype","head":"posterior","epochs":10,"batch_size":16,"hidden":32,"timesteps":2,"lr":0.003,"train_order":"`+order+`"}`)
		losses := map[string][]float64{}
		obs := methods.ObserverFunc(func(s methods.EpochStats) { losses[s.Part] = append(losses[s.Part], s.Loss) })
		if err := l.Learn(context.Background(), ds.Train, allOutputs(2), obs); err != nil {
			t.Fatal(err)
		}
		for part, ls := range losses {
			if !(ls[len(ls)-1] < 0.8*ls[0]) {
				t.Errorf("%s %s: losses %.3g do not fall", order, part, ls)
			}
		}
		sc := l.Scores(setMatrix(ds.Test), allOutputs(2))
		for _, v := range sc.Data {
			if math.IsNaN(float64(v)) || v > 0 {
				t.Fatalf("%s: score %v is not a log-probability", order, v)
			}
		}
		acc := accuracy(sc, ds.Test.Y, nil)
		t.Logf("%s: test accuracy %.1f%%, losses %v", order, acc, losses)
		if acc < 90 {
			t.Errorf("%s: test accuracy %.1f%% on two separable classes, want ≥ 90%%", order, acc)
		}
	}
}

// TestVariants trains every embedding with both heads on the blobs and
// checks that each learns.
func TestVariants(t *testing.T) {
	ds := blobs(t, 100)
	for _, emb := range []string{EmbedOneHot, EmbedLearned, EmbedPrototype} {
		for _, head := range []string{HeadSoftmax, HeadPosterior} {
			l := newTestLearner(t, ds, 1, fmt.Sprintf(`{"encoder":"mlp","epochs":20,"batch_size":32,"hidden":32,"timesteps":4,"embedding":%q,"head":%q}`, emb, head))
			if err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
				t.Fatal(err)
			}
			acc := accuracy(l.Scores(setMatrix(ds.Test), nil), ds.Test.Y, nil)
			t.Logf("%s/%s: test accuracy %.1f%%", emb, head, acc)
			if acc < 80 {
				t.Errorf("%s/%s: test accuracy %.1f%%, want ≥ 80%%", emb, head, acc)
			}
		}
	}
}
