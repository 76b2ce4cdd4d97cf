package noprop

import (
	"fmt"
	"math"
	"testing"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// testNetConfig is the paper's continuous-time network for an input shape
// and embedding.
func testNetConfig(in tasks.Shape, e *Embedding, encoder string) netConfig {
	return netConfig{input: in, embed: e, encoder: encoder, hidden: 256, timeDim: 64, dropout: 0.2, init: nn.InitPyTorch}
}

// TestNetParamCount checks the continuous-time network's parameter count
// against the recount of the paper's Table 5, CT column (docs/methods.md §3.3),
// to its 3 significant digits, and pins the exact counts.
func TestNetParamCount(t *testing.T) {
	mnist := tasks.Shape{C: 1, H: 28, W: 28}
	cifar := tasks.Shape{C: 3, H: 32, W: 32}
	proto := func(m, d int) *Embedding {
		return &Embedding{Kind: EmbedPrototype, M: m, D: d, W: nn.NewParam("embed", false, m, d)}
	}
	cases := []struct {
		name  string
		in    tasks.Shape
		embed *Embedding
		table float64 // Table 5 recount, millions
		exact int
	}{
		{"MNIST one-hot", mnist, NewOneHot(10), 0.868, 867722},
		{"MNIST dim=20", mnist, NewLearnedEmbedding(10, 20, nn.NewRNG(1)), 0.870, 870282},
		{"MNIST prototype", mnist, proto(10, 784), 1.482, 1482122},
		{"CIFAR-10 one-hot", cifar, NewOneHot(10), 1.163, 1163210},
		{"CIFAR-10 dim=20", cifar, NewLearnedEmbedding(10, 20, nn.NewRNG(1)), 1.166, 1165770},
		{"CIFAR-10 prototype", cifar, proto(10, 3072), 2.073, 2073098},
		{"CIFAR-100 one-hot", cifar, NewOneHot(100), 1.198, 1197860},
		{"CIFAR-100 dim=20", cifar, NewLearnedEmbedding(100, 20, nn.NewRNG(1)), 1.177, 1177380},
		{"CIFAR-100 prototype", cifar, proto(100, 3072), 2.085, 2084708},
	}
	for _, c := range cases {
		for _, linear := range []bool{false, true} { // CT and FM have the same network
			cfg := testNetConfig(c.in, c.embed, EncoderConv)
			cfg.linear = linear
			n := newNet(cfg, nn.NewRNG(1)).NumParams()
			got := float64(n) / 1e6
			if math.Abs(got-c.table) > 0.0005 {
				t.Errorf("%s: %d parameters = %.3fM, Table 5 recount %.3fM", c.name, n, got, c.table)
			}
			if n != c.exact {
				t.Errorf("%s: %d parameters, want %d", c.name, n, c.exact)
			}
			if testing.Verbose() && !linear {
				fmt.Printf("%-20s %d (%.3fM)\n", c.name, n, got)
			}
		}
	}
}

// TestNetStepIsForward: along a chain, Prepare then Step (the image
// features once, the first fusion layer split by its input blocks) gives
// the whole network's output at the same z and t, for both output stages,
// both encoders and the prototype z path, to float32 rounding.
func TestNetStepIsForward(t *testing.T) {
	in := tasks.Shape{C: 1, H: 14, W: 14}
	rng := nn.NewRNG(3)
	for _, tc := range []struct {
		encoder, embedding string
		linear             bool
	}{
		{EncoderConv, EmbedOneHot, false},
		{EncoderConv, EmbedLearned, true},
		{EncoderMLP, EmbedPrototype, false},
		{EncoderConv, EmbedPrototype, true},
	} {
		var e *Embedding
		switch tc.embedding {
		case EmbedOneHot:
			e = NewOneHot(4)
		case EmbedLearned:
			e = NewLearnedEmbedding(4, 6, rng)
		default:
			e = &Embedding{Kind: EmbedPrototype, M: 4, D: in.Size(), W: nn.NewParam("embed", false, 4, in.Size())}
			rng.FillUniform(e.W.Value, 1)
		}
		cfg := testNetConfig(in, e, tc.encoder)
		cfg.hidden, cfg.linear = 16, tc.linear
		net := newNet(cfg, nn.NewRNG(2))
		x, z := randMatrix(rng, 7, in.Size()), randMatrix(rng, 7, e.D)
		net.Prepare(x, false)
		for _, tt := range []float64{0, 0.3, 0.999} {
			step := net.Step(z, tt, nil, false)
			got := append([]float32(nil), step.Data...)
			tcol := nn.NewMatrix(7, 1)
			for i := range tcol.Data {
				tcol.Data[i] = float32(tt)
			}
			want := net.Forward(x, z, tcol, nil, false)
			if got, want := got[len(got)-1], want.Data[len(want.Data)-1]; got == 0 && want == 0 {
				t.Fatalf("%v: zero output", tc)
			}
			for k, v := range want.Data {
				if math.Abs(float64(got[k]-v)) > 1e-5*math.Max(1, math.Abs(float64(v))) {
					t.Fatalf("%v, t = %v: Step[%d] = %g, Forward %g", tc, tt, k, got[k], v)
				}
			}
		}
	}
}

// TestNetGrad checks Backward against finite differences of a weighted sum
// of the output, for every parameter tensor (a sample of entries), the
// latent z and a learned W_Embed, for both output stages.
func TestNetGrad(t *testing.T) {
	in := tasks.Shape{C: 1, H: 14, W: 14}
	for _, tc := range []struct {
		encoder string
		linear  bool
	}{{EncoderConv, false}, {EncoderMLP, true}, {EncoderConv, true}} {
		rng := nn.NewRNG(8)
		e := NewLearnedEmbedding(4, 6, rng)
		cfg := testNetConfig(in, e, tc.encoder)
		cfg.hidden, cfg.linear, cfg.zGrad, cfg.dropout = 8, tc.linear, true, 0
		net := newNet(cfg, nn.NewRNG(2))
		x, z := randMatrix(rng, 5, in.Size()), randMatrix(rng, 5, e.D)
		tcol := randMatrix(rng, 5, 1)
		for i := range tcol.Data {
			tcol.Data[i] = 0.5 + 0.5*tcol.Data[i]
		}
		w := randMatrix(rng, 5, e.D)
		mask := []bool{true, true, false, true}
		loss := func() float64 { return weighted(net.Forward(x, z, tcol, mask, true), w) }
		clearGrads(net.Params())
		net.Forward(x, z, tcol, mask, true)
		eg := make([]float32, e.M*e.D)
		dz := append([]float32(nil), net.Backward(w, eg).Data...)
		name := fmt.Sprintf("%s linear=%v", tc.encoder, tc.linear)
		fdCheck(t, name+" z", z.Data, dz, loss, 1e-3, 3e-2)
		fdCheck(t, name+" W_Embed", e.W.Value, eg, loss, 1e-3, 3e-2)
		for i, p := range net.Params() {
			fdCheck(t, fmt.Sprintf("%s param %d %s", name, i, p.Name), p.Value, p.Grad, loss, 1e-3, 3e-2)
		}
	}
}
