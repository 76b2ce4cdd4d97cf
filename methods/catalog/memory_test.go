package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/noprop/noprop/internal/memstat"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// The training-memory benchmarks: for the paper's architectures on the
// shapes of MNIST, CIFAR-10 and CIFAR-100, each method's peak Go heap while
// it trains a few minibatches of 128 and scores 512 images, above the live
// heap before the learner is built (so the data does not count; weights,
// gradients and optimizer state do). NoProp-DT and backprop-dt are also
// measured against T and the minibatch size. Run them with
//
//	go test -run '^$' -bench TrainingMemory -benchtime 1x ./methods/catalog/
//
// (scripts/memory.sh does, and prints tables): each reports peak-heap-MiB,
// and peak-rss-MiB, the process's peak resident set during that
// measurement (the kernel's mark is reset before each where it allows).

var memoryShapes = []struct {
	name    string
	shape   tasks.Shape
	classes int
	preset  string
}{
	{"mnist", tasks.Shape{C: 1, H: 28, W: 28}, 10, "paper"},
	{"cifar10", tasks.Shape{C: 3, H: 32, W: 32}, 10, "paper-cifar"},
	{"cifar100", tasks.Shape{C: 3, H: 32, W: 32}, 100, "paper-cifar"},
}

// measureTraining builds method m with settings for problem p, trains it
// for a few minibatches on random data and scores 512 rows, and reports the
// peak memory.
func measureTraining(b *testing.B, m methods.Method, settings json.RawMessage, p methods.Problem) {
	data := tasks.Set{Shape: p.Input, X: make([]float32, 512*p.Input.Size()), Y: make([]int, 512)}
	nn.NewRNG(1).FillUniform(data.X, 1)
	for i := range data.Y {
		data.Y[i] = i % p.Outputs
	}
	active := make([]int, p.Outputs)
	for i := range active {
		active[i] = i
	}
	x := nn.Matrix{Rows: 512, Cols: p.Input.Size(), Data: data.X}
	for b.Loop() {
		mem := memstat.Start()
		l, err := m.New(p, settings)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Learn(context.Background(), data, active, nil); err != nil {
			b.Fatal(err)
		}
		l.Scores(x, active)
		heap, rss := mem.Stop()
		b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	}
}

// budget makes a run of a few minibatch steps per part.
const budget = `{"iterations":3,"epochs":0,"batch_size":128}`

func memorySettings(b *testing.B, m methods.Method, preset string, extra ...string) json.RawMessage {
	b.Helper()
	if _, ok := m.Presets[preset]; !ok {
		preset = ""
	}
	layers := []json.RawMessage{json.RawMessage(budget)}
	for _, e := range extra {
		layers = append(layers, json.RawMessage(e))
	}
	over, err := methods.MergeSettings(layers...)
	if err != nil {
		b.Fatal(err)
	}
	s, err := m.Resolve(preset, over)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func BenchmarkTrainingMemory(b *testing.B) {
	if os.Getenv("NOPROP_MEMORY_BENCH") == "" && testing.Short() {
		b.Skip("memory benchmarks skipped in -short mode")
	}
	for _, sh := range memoryShapes {
		for _, m := range All {
			b.Run(fmt.Sprintf("shape=%s/method=%s/case=base", sh.name, m.Name), func(b *testing.B) {
				measureTraining(b, m, memorySettings(b, m, sh.preset), methods.Problem{Input: sh.shape, Outputs: sh.classes, Seed: 1})
			})
		}
	}
	mnist := memoryShapes[0]
	for _, name := range []string{"noprop-dt", "backprop-dt"} {
		m, _ := All.Lookup(name)
		for _, T := range []int{2, 5, 10, 20} {
			b.Run(fmt.Sprintf("shape=mnist/method=%s/case=T%d", name, T), func(b *testing.B) {
				measureTraining(b, m, memorySettings(b, m, "paper", fmt.Sprintf(`{"timesteps":%d}`, T)), methods.Problem{Input: mnist.shape, Outputs: 10, Seed: 1})
			})
		}
		for _, batch := range []int{32, 64, 256} {
			b.Run(fmt.Sprintf("shape=mnist/method=%s/case=batch%d", name, batch), func(b *testing.B) {
				measureTraining(b, m, memorySettings(b, m, "paper", fmt.Sprintf(`{"batch_size":%d}`, batch)), methods.Problem{Input: mnist.shape, Outputs: 10, Seed: 1})
			})
		}
	}
	// NoProp-DT with a set of buffers per block, as before they were shared.
	m, _ := All.Lookup("noprop-dt")
	for _, sh := range memoryShapes {
		b.Run(fmt.Sprintf("shape=%s/method=noprop-dt/case=unshared", sh.name), func(b *testing.B) {
			measureTraining(b, m, memorySettings(b, m, sh.preset, `{"share_scratch":false}`), methods.Problem{Input: sh.shape, Outputs: sh.classes, Seed: 1})
		})
	}
}
