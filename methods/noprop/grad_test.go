package noprop

import (
	"math"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// fdCheck compares analytic gradients with central finite differences of
// loss for up to 30 entries of vals spread over the tensor, with step h.
// The network computes in float32, so h trades truncation error (and ReLU
// kinks crossed) against round-off.
func fdCheck(t *testing.T, name string, vals, analytic []float32, loss func() float64, h, tol float64) {
	t.Helper()
	if len(analytic) != len(vals) {
		t.Fatalf("%s: %d gradient entries for %d values", name, len(analytic), len(vals))
	}
	step := max(1, len(vals)/30)
	for i := 0; i < len(vals); i += step {
		old := vals[i]
		vals[i] = old + float32(h)
		lp := loss()
		vals[i] = old - float32(h)
		lm := loss()
		vals[i] = old
		num := (lp - lm) / (2 * h)
		a := float64(analytic[i])
		if d := math.Abs(a - num); d > tol*math.Max(1e-2, math.Max(math.Abs(a), math.Abs(num))) {
			t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, a, num)
		}
	}
}

// weighted is Σ w⊙m in float64.
func weighted(m, w nn.Matrix) float64 {
	s := 0.0
	for i, v := range m.Data {
		s += float64(v) * float64(w.Data[i])
	}
	return s
}

func randMatrix(rng *nn.RNG, r, c int) nn.Matrix {
	m := nn.NewMatrix(r, c)
	rng.FillUniform(m.Data, 1)
	return m
}

func clearGrads(ps []*nn.Param) {
	for _, p := range ps {
		clear(p.Grad)
	}
}

func TestEmbedOutputGrad(t *testing.T) {
	rng := nn.NewRNG(4)
	for _, e := range []*Embedding{NewOneHot(4), NewLearnedEmbedding(4, 3, rng)} {
		o := &EmbedOutput{Embed: e}
		logits := randMatrix(rng, 5, 4)
		w := randMatrix(rng, 5, e.D)
		mask := []bool{false, true, true, true}
		loss := func() float64 { return weighted(o.Forward(logits, mask), w) }
		u := o.Forward(logits, mask)
		// Masked class 0 has probability 0: with one-hot, û's column 0 is 0.
		if e.Kind == EmbedOneHot {
			for i := range u.Rows {
				if u.Row(i)[0] != 0 {
					t.Fatalf("masked output has probability %g", u.Row(i)[0])
				}
			}
		}
		eg := make([]float32, e.M*e.D)
		dl := o.Backward(w, eg)
		dlc := append([]float32(nil), dl.Data...)
		fdCheck(t, e.Kind+" logits", logits.Data, dlc, loss, 1e-2, 3e-3)
		if e.Learned() {
			fdCheck(t, e.Kind+" W_Embed", e.W.Value, eg, loss, 1e-2, 3e-3)
		}
	}
}

func TestHeadGrad(t *testing.T) {
	rng := nn.NewRNG(5)
	for _, kind := range []string{HeadSoftmax, HeadPosterior} {
		e := NewLearnedEmbedding(4, 3, rng)
		h := NewHead(kind, e, 0.7, nn.InitPyTorch, rng)
		z := randMatrix(rng, 5, 3)
		w := randMatrix(rng, 5, 4)
		mask := []bool{true, false, true, true}
		loss := func() float64 { return weighted(h.Forward(z, mask, true), w) }
		clearGrads(h.Params())
		h.Forward(z, mask, true)
		eg := make([]float32, e.M*e.D)
		dz := h.Backward(w, eg)
		dzc := append([]float32(nil), dz.Data...)
		fdCheck(t, kind+" z", z.Data, dzc, loss, 1e-2, 3e-3)
		fdCheck(t, kind+" W_Embed", e.W.Value, eg, loss, 1e-2, 3e-3)
		for _, p := range h.Params() {
			fdCheck(t, kind+" "+p.Name, p.Value, p.Grad, loss, 1e-2, 3e-3)
		}
	}
}

// TestStepGradients checks the gradients of a whole training step, with the
// noise held fixed, against finite differences of its loss: the block term
// with respect to W_Embed (target, output stage and the pathwise gradient
// through z_{t−1}) and θ_t, and the CE + KL terms with respect to W_Embed
// (through z_T and the posterior head) and θ_out.
func TestStepGradients(t *testing.T) {
	ds := blobs(t, 4)
	for _, tc := range []struct{ embedding, head string }{
		{EmbedLearned, HeadSoftmax},
		{EmbedLearned, HeadPosterior},
		{EmbedPrototype, HeadSoftmax},
	} {
		l := newTestLearner(t, ds, 2, `{"encoder":"mlp","hidden":8,"timesteps":3,"embed_dim":5,"embedding":"`+tc.embedding+`","head":"`+tc.head+`"}`)
		name := tc.embedding + "/" + tc.head
		x := setMatrix(ds.Train)
		y := ds.Train.Y
		mask := []bool{true, true, true, true}
		e := l.embed
		for _, bs := range l.blocks[1:2] { // block 2
			blockLoss := func() float64 {
				bs.noise = nn.NewRNG(11)
				clearGrads(bs.blk.Params())
				return l.blockStep(bs, methods.Batch{X: x, Y: y, Mask: mask})
			}
			blockLoss()
			eg := append([]float32(nil), bs.embGrad...)
			grads := map[*nn.Param][]float32{}
			for _, p := range bs.blk.Params() {
				grads[p] = append([]float32(nil), p.Grad...)
			}
			fdCheck(t, name+" block W_Embed", e.W.Value, eg, blockLoss, 1e-3, 2e-2)
			for _, p := range bs.blk.Params()[:4] {
				fdCheck(t, name+" block "+p.Name, p.Value, grads[p], blockLoss, 1e-3, 2e-2)
			}
		}
		// ᾱ_0 is 1e-5 in the cosine schedule, which makes the KL gradient
		// invisible to finite differences; raise it for this check.
		l.sched.AlphaBar[0] = 0.3
		sharedLoss := func() float64 {
			l.headNoise = nn.NewRNG(12)
			clearGrads(l.sharedParams)
			ce, kl, _ := l.sharedStep(methods.Batch{Y: y, Mask: mask})
			return ce + kl
		}
		sharedLoss()
		grads := map[*nn.Param][]float32{}
		for _, p := range l.sharedParams {
			grads[p] = append([]float32(nil), p.Grad...)
		}
		for _, p := range l.sharedParams {
			fdCheck(t, name+" shared "+p.Name, p.Value, grads[p], sharedLoss, 1e-3, 2e-2)
		}
	}
}
