package lrsched

import (
	"math"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

func TestFactor(t *testing.T) {
	for _, tc := range []struct {
		kind     string
		t, total int
		want     float64
	}{
		{Constant, 7, 10, 1},
		{Cooldown, 1, 10, 1}, {Cooldown, 6, 10, 1}, {Cooldown, 7, 10, 0.8}, {Cooldown, 10, 10, 0.2},
		{Cooldown, 1, 1, 1}, {Cooldown, 3, 3, 2.0 / 3},
		{Cosine, 1, 10, 1}, {Cosine, 6, 10, 0.5}, {Cosine, 10, 10, 0.5 * (1 + math.Cos(0.9*math.Pi))},
	} {
		if got := Factor(tc.kind, tc.t, tc.total); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: step %d of %d: factor %g, want %g", tc.kind, tc.t, tc.total, got, tc.want)
		}
	}
}

// A schedule sets each optimizer's rate to its own base times the factor,
// and stays at the last step's factor past the budget.
func TestSchedule(t *testing.T) {
	a, _ := nn.NewOptimizer("adam", nn.DefaultOptimConfig("adam"))
	b, _ := nn.NewOptimizer("sgd", nn.DefaultOptimConfig("sgd"))
	s := New(Cooldown, 4)
	s.Add(a, 0.1)
	s.Add(b, 1)
	want := []float64{1, 1, 1, 0.5, 0.5}
	for i, f := range want {
		s.At(i + 1)
		if got := a.(*nn.Adam).LR; math.Abs(float64(got)-0.1*f) > 1e-7 {
			t.Errorf("step %d: adam rate %g, want %g", i+1, got, 0.1*f)
		}
		if got := b.(*nn.SGD).LR; math.Abs(float64(got)-f) > 1e-7 {
			t.Errorf("step %d: sgd rate %g, want %g", i+1, got, f)
		}
	}
}

func TestSteps(t *testing.T) {
	for _, tc := range []struct {
		tr   methods.Training
		n    int
		want int
	}{
		{methods.DefaultTraining(10, 3, 0), 95, 30},  // 9 full + 1 of 5, 3 epochs
		{methods.DefaultTraining(10, 3, 0), 91, 27},  // the last single example is dropped
		{methods.DefaultTraining(10, 0, 25), 95, 25}, // iterations
	} {
		if got := Steps(methods.NewTrainer(tc.tr, nn.NewRNG(1)), tc.n); got != tc.want {
			t.Errorf("%+v on %d examples: %d steps, want %d", tc.tr, tc.n, got, tc.want)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("an unknown schedule did not panic")
		}
	}()
	New("warmup", 10)
}
