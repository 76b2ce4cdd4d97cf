package noprop

import (
	"fmt"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// mnistShape and cifarShape are the images the step benchmarks train on.
var (
	mnistShape = tasks.Shape{C: 1, H: 28, W: 28}
	cifarShape = tasks.Shape{C: 3, H: 32, W: 32}
)

// benchLearner builds a learner for MNIST shapes (1×28×28, 10 classes) and a
// random minibatch of 128.
func benchLearner(b *testing.B, settings string) (*DTLearner, nn.Matrix, []int, []int, []bool) {
	return benchLearnerOn(b, mnistShape, settings)
}

// benchLearnerOn is benchLearner for images of the given shape.
func benchLearnerOn(b *testing.B, in tasks.Shape, settings string) (*DTLearner, nn.Matrix, []int, []int, []bool) {
	b.Helper()
	p := methods.Problem{Input: in, Outputs: 10, Seed: 1}
	lr, err := DTMethod.New(p, []byte(settings))
	if err != nil {
		b.Fatal(err)
	}
	l := lr.(*DTLearner)
	rng := nn.NewRNG(2)
	x := nn.NewMatrix(128, in.C*in.H*in.W)
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	y := make([]int, 128)
	for i := range y {
		y[i] = i % 10
	}
	act := allOutputs(10)
	mask := make([]bool, 10)
	for i := range mask {
		mask[i] = true
	}
	return l, x, y, act, mask
}

// benchSequential times one sequential training step of block 5: sampling,
// forward, loss, backward and the optimizer steps of θ_5 and θ_out.
func benchSequential(b *testing.B, settings string) { benchSequentialOn(b, mnistShape, settings) }

// benchSequentialOn is benchSequential for images of the given shape.
func benchSequentialOn(b *testing.B, in tasks.Shape, settings string) {
	l, x, y, _, mask := benchLearnerOn(b, in, settings)
	bs := l.blocks[4]
	for range 2 { // warm up buffers and optimizer state
		if _, err := l.sequentialStep(bs, methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.sequentialStep(bs, methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())*1e3/float64(b.N), "ms/step")
}

// benchParallel times one parallel step: all T blocks on one minibatch.
func benchParallel(b *testing.B, settings string) {
	l, x, y, _, mask := benchLearner(b, settings)
	for range 2 {
		if _, err := l.parallelStep(methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.parallelStep(methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())*1e3/float64(b.N), "ms/step")
}

func BenchmarkStepMLP(b *testing.B)  { benchSequential(b, `{"encoder":"mlp"}`) }
func BenchmarkStepConv(b *testing.B) { benchSequential(b, `{"encoder":"conv"}`) }

// BenchmarkStepConvCIFAR is BenchmarkStepConv on CIFAR's 3×32×32 images, the
// shape of the paper-budget runs.
func BenchmarkStepConvCIFAR(b *testing.B) { benchSequentialOn(b, cifarShape, `{"encoder":"conv"}`) }

// The step benchmarks with precision bf16, to set beside the fp32 ones
// (skipped on CPUs without the bf16 instructions):
//
//	go test -run '^$' -bench 'BenchmarkStep(MLP|Conv|ConvCIFAR)(BF16)?$' ./methods/noprop/
func BenchmarkStepMLPBF16(b *testing.B) {
	skipNoBF16(b)
	benchSequential(b, `{"encoder":"mlp","precision":"bf16"}`)
}

func BenchmarkStepConvBF16(b *testing.B) {
	skipNoBF16(b)
	benchSequential(b, `{"encoder":"conv","precision":"bf16"}`)
}

func BenchmarkStepConvCIFARBF16(b *testing.B) {
	skipNoBF16(b)
	benchSequentialOn(b, cifarShape, `{"encoder":"conv","precision":"bf16"}`)
}

func skipNoBF16(b *testing.B) {
	if !nn.BF16Available() {
		b.Skip("no AVX512_BF16 on this CPU")
	}
}

func BenchmarkParallelStepMLP(b *testing.B) {
	benchParallel(b, `{"encoder":"mlp","train_order":"parallel"}`)
}
func BenchmarkParallelStepConv(b *testing.B) {
	benchParallel(b, `{"encoder":"conv","train_order":"parallel"}`)
}

// BenchmarkScoresMLP times inference (T block evaluations and the head) on
// 500 images.
func BenchmarkScoresMLP(b *testing.B) {
	l, _, _, _, _ := benchLearner(b, `{"encoder":"mlp"}`)
	x := nn.NewMatrix(500, 784)
	nn.NewRNG(3).FillUniform(x.Data, 1)
	l.Scores(x, nil)
	b.ResetTimer()
	for b.Loop() {
		l.Scores(x, nil)
	}
}

// BenchmarkScoresRunsConv times scoring 500 images with the paper's conv
// block for K = 1 and K = 5 inference runs (ScoresRuns: the blocks' image
// path once, the chains once per run), so that the cost of K = 5 against
// K = 1 reads off one run of the benchmark as a ratio.
func BenchmarkScoresRunsConv(b *testing.B) {
	l, _, _, act, _ := benchLearner(b, `{"encoder":"conv"}`)
	x := nn.NewMatrix(500, 784)
	nn.NewRNG(3).FillUniform(x.Data, 1)
	for _, k := range []int{1, 5} {
		seeds := make([]uint64, k)
		for i := range seeds {
			seeds[i] = uint64(i + 1)
		}
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			l.ScoresRuns(x, act, seeds)
			for b.Loop() {
				l.ScoresRuns(x, act, seeds)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/500-images")
		})
	}
}

// benchLearn times one pass of every block over 1280 MNIST-shaped images
// (10 minibatches of 128; a Learn call of one epoch), in ms per block step,
// the sequential order's work as the Trainer schedules it: with workers > 1,
// consecutive blocks' passes at once.
func benchLearn(b *testing.B, in tasks.Shape, settings string) {
	p := methods.Problem{Input: in, Outputs: 10, Seed: 1}
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 10, TrainPer: 128, TestPer: 1, Shape: in, Noise: 0.3, Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	lr, err := DTMethod.New(p, []byte(settings))
	if err != nil {
		b.Fatal(err)
	}
	l := lr.(*DTLearner)
	if err := l.Learn(b.Context(), ds.Train, allOutputs(10), nil); err != nil { // buffers and optimizer state
		b.Fatal(err)
	}
	steps := len(l.blocks) * l.train.Batches(ds.Train.Len())
	b.ResetTimer()
	for b.Loop() {
		if err := l.Learn(b.Context(), ds.Train, allOutputs(10), nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*steps), "ms/step")
}

// BenchmarkLearnMLP sets the blocks in turn beside two at once, with the
// mlp image path:
//
//	go test -run '^$' -bench 'BenchmarkLearn' -benchtime 5x ./methods/noprop/
func BenchmarkLearnMLP(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLearn(b, mnistShape, fmt.Sprintf(`{"encoder":"mlp","epochs":1,"iterations":0,"batch_size":128,"workers":%d}`, w))
		})
	}
}

// BenchmarkLearnConv is BenchmarkLearnMLP with the conv block, whose
// default is one block at a time.
func BenchmarkLearnConv(b *testing.B) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			benchLearn(b, mnistShape, fmt.Sprintf(`{"encoder":"conv","epochs":1,"iterations":0,"batch_size":128,"workers":%d}`, w))
		})
	}
}
