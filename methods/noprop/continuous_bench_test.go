package noprop

import (
	"encoding/json"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// mnistProblem is MNIST's shape: 1×28×28 images, 10 classes.
var mnistProblem = methods.Problem{Input: tasks.Shape{C: 1, H: 28, W: 28}, Outputs: 10, Seed: 1}

// benchBatch is a random minibatch of 128 MNIST-shaped images with labels,
// all outputs active.
func benchBatch() (nn.Matrix, []int, []int, []bool) {
	x := nn.NewMatrix(128, 784)
	nn.NewRNG(2).FillUniform(x.Data, 1)
	y := make([]int, 128)
	for i := range y {
		y[i] = i % 10
	}
	mask := make([]bool, 10)
	for i := range mask {
		mask[i] = true
	}
	return x, y, allOutputs(10), mask
}

// benchStep times one training step of a continuous-time rule on a
// minibatch of 128 MNIST images.
func benchStep(b *testing.B, m methods.Method, settings string, step func(l methods.Learner, x nn.Matrix, y, act []int, mask []bool) error) {
	l, err := m.New(mnistProblem, json.RawMessage(settings))
	if err != nil {
		b.Fatal(err)
	}
	x, y, act, mask := benchBatch()
	for range 2 { // warm up buffers and optimizer state
		if err := step(l, x, y, act, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if err := step(l, x, y, act, mask); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/step")
}

func trainCT(l methods.Learner, x nn.Matrix, y, act []int, mask []bool) error {
	_, err := l.(*CTLearner).step(methods.Batch{X: x, Y: y, Mask: mask}, act)
	return err
}

func trainFM(l methods.Learner, x nn.Matrix, y, act []int, mask []bool) error {
	_, err := l.(*FMLearner).step(methods.Batch{X: x, Y: y, Mask: mask}, act)
	return err
}

func trainAdjoint(l methods.Learner, x nn.Matrix, y, act []int, mask []bool) error {
	a := l.(*AdjointLearner)
	a.zs[0] = nn.Resize(a.zs[0], x.Rows, a.embed.D)
	a.noise.FillNormal(a.zs[0].Data, 1)
	loss, _ := a.lossGrad(methods.Batch{X: x, Y: y, Mask: mask})
	return stepOrDiverge(a.opt, a.params, loss, a.termsText)
}

func BenchmarkCTStepConv(b *testing.B) { benchStep(b, CTMethod, `{}`, trainCT) }
func BenchmarkCTStepMLP(b *testing.B)  { benchStep(b, CTMethod, `{"encoder":"mlp"}`, trainCT) }
func BenchmarkFMStepConv(b *testing.B) { benchStep(b, FMMethod, `{}`, trainFM) }
func BenchmarkFMStepMLP(b *testing.B)  { benchStep(b, FMMethod, `{"encoder":"mlp"}`, trainFM) }

// BenchmarkAdjointStepConv is one minibatch of the Adjoint through its
// solver, N = 1000 (the paper's) and N = 100.
func BenchmarkAdjointStepConv(b *testing.B) {
	for _, n := range []string{"1000", "100"} {
		b.Run("N="+n, func(b *testing.B) { benchStep(b, AdjointMethod, `{"timesteps":`+n+`}`, trainAdjoint) })
	}
}

// BenchmarkCTScores times NoProp-CT's inference with the paper's conv
// network on MNIST-shaped images and reports the seconds it takes to score
// the 10 000 test images at N = 1000 steps ("s/10k@N1000"), cached (the
// image path once per image, Net.Prepare; what Scores does) and uncached
// (the whole network at every step, as a literal reading of the chain
// would run it). Each is timed on 500 images (one harness chunk), the
// cached chain at N = 1000, the uncached one at N = 20 (at N = 1000 one
// iteration would take minutes); both extrapolate linearly in images and
// steps, which is how their cost grows.
func BenchmarkCTScores(b *testing.B) {
	for _, tc := range []struct {
		name   string
		steps  int
		cached bool
	}{{"cached", 1000, true}, {"uncached", 20, false}} {
		b.Run(tc.name, func(b *testing.B) {
			lr, err := CTMethod.New(mnistProblem, json.RawMessage(`{}`))
			if err != nil {
				b.Fatal(err)
			}
			l := lr.(*CTLearner)
			x := nn.NewMatrix(500, 784)
			nn.NewRNG(3).FillUniform(x.Data, 1)
			steps := ctSteps(l.sched.Grid(tc.steps), InferenceAncestral)
			score := func() {
				for lo := 0; lo < x.Rows; lo += l.chunk {
					l.chain(x.Slice(lo, min(lo+l.chunk, x.Rows)), nil, steps, streamNoise{nn.NewRNG(4)}, tc.cached)
				}
			}
			score()
			b.ResetTimer()
			for b.Loop() {
				score()
			}
			perRun := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(perRun*(10000/500)*(1000/float64(tc.steps)), "s/10k@N1000")
		})
	}
}
