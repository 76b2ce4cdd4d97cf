package harness

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/methods/noprop"
	"github.com/noprop/noprop/tasks"
)

// rules are real learning rules, named directly (the harness does not know
// the catalog).
var rules = methods.Catalog{backprop.Method, noprop.Method}

func TestRunMeasuresTrainingMemory(t *testing.T) {
	rn := &Runner{Methods: rules, Load: syntheticLoader}
	specs, err := Sweep{Methods: []MethodChoice{{Name: "backprop", Settings: json.RawMessage(`{"hidden":[4096,512],"iterations":2,"batch_size":16}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(rules, fakeClasses)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rn.Run(context.Background(), specs[0])
	if err != nil {
		t.Fatal(err)
	}
	// The network's weights, gradients and Adam state take about 35 MB
	// (2.2M parameters, 4 copies); the dataset is resident before the
	// baseline and must not count.
	if res.Memory.PeakHeapBytes < 30<<20 || res.Memory.PeakHeapBytes > 80<<20 {
		t.Errorf("peak training heap %d bytes", res.Memory.PeakHeapBytes)
	}
	if res.Memory.PeakRSSBytes <= 0 {
		t.Errorf("peak RSS %d bytes", res.Memory.PeakRSSBytes)
	}
}

// TestNoLookAtTheFuture hands the harness a stream whose later tasks'
// training images are NaN. NoProp-DT with prototype embeddings picks each
// class's prototype from training images: if it looked at classes before
// their task, the NaNs would be in W_Embed and every score after task 1
// would be NaN. The run must learn task 1 as if the poison were not there
// (and fail, as diverged, only when it meets it).
func TestNoLookAtTheFuture(t *testing.T) {
	load := func(string) (tasks.Dataset, error) {
		ds, err := syntheticLoader("")
		if err != nil {
			return ds, err
		}
		x := append([]float32(nil), ds.Train.X...)
		d := ds.Train.Shape.Size()
		for i, y := range ds.Train.Y {
			if y >= 2 { // the classes of task 2
				for j := range d {
					x[i*d+j] = float32(math.NaN())
				}
			}
		}
		ds.Train.X = x
		return ds, nil
	}
	rn := &Runner{Methods: rules, Load: load}
	specs, err := Sweep{Methods: []MethodChoice{{Name: "noprop-dt", Settings: json.RawMessage(
		`{"encoder":"mlp","embedding":"prototype","hidden":32,"timesteps":3,"iterations":200,"batch_size":16}`)}},
		Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2, Scenarios: []string{"class"},
		Seeds: 1, FirstSeed: 1, InferenceRuns: 1}.Expand(rules, fakeClasses)
	if err != nil {
		t.Fatal(err)
	}
	res, err := rn.Run(context.Background(), specs[0])
	if !errors.Is(err, methods.ErrDiverged) {
		t.Errorf("meeting the NaN images of task 2: error %v, want a divergence", err)
	}
	if a := res.Matrix[1][0]; !(a >= 90) {
		t.Errorf("task 1 accuracy after learning it is %v, want ≥ 90: something read task 2's data early", a)
	}
}
