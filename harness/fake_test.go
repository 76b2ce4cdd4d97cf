package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// centroid is a fake learning rule for the harness's tests: it scores an
// example by minus its squared distance to the mean training example of
// each output learned so far. With noise > 0 it is stochastic: every score
// gets Gaussian noise drawn from its inference seed.
type centroid struct {
	s       centroidSettings
	input   tasks.Shape
	sums    [][]float64
	counts  []int
	seed    uint64
	learned int
}

type centroidSettings struct {
	Noise float64 `json:"noise" range:"[0,)" help:"standard deviation of the score noise"`
	// FailOnTask makes Learn fail on that task (1-based); 0 never.
	FailOnTask int `json:"fail_on_task" range:"[0,)" help:"task on which Learn fails"`
}

func newCentroid(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
	s := centroidSettings{}
	if err := methods.DecodeSettings(raw, &s); err != nil {
		return nil, err
	}
	c := &centroid{s: s, input: p.Input, sums: make([][]float64, p.Outputs), counts: make([]int, p.Outputs)}
	for i := range c.sums {
		c.sums[i] = make([]float64, p.Input.Size())
	}
	return c, nil
}

func (c *centroid) Learn(ctx context.Context, data tasks.Set, active []int, obs methods.Observer) error {
	c.learned++
	if c.learned == c.s.FailOnTask {
		return fmt.Errorf("fake failure on task %d", c.learned)
	}
	task, err := methods.NewTask(data, active, c.input, len(c.sums))
	if err != nil {
		return err
	}
	for i, y := range task.Data.Y {
		for j, v := range task.Data.Row(i) {
			c.sums[y][j] += float64(v)
		}
		c.counts[y]++
	}
	if obs != nil {
		obs.Epoch(methods.EpochStats{Epoch: 1, Loss: 1, TrainAcc: math.NaN(), Examples: task.Data.Len()})
	}
	return ctx.Err()
}

func (c *centroid) Scores(x nn.Matrix, active []int) nn.Matrix {
	out := nn.NewMatrix(x.Rows, len(c.sums))
	rng := nn.NewRNG(c.seed)
	for i := range x.Rows {
		for o := range c.sums {
			if c.counts[o] == 0 {
				out.Row(i)[o] = float32(math.Inf(-1))
				continue
			}
			d := 0.0
			for j, v := range x.Row(i) {
				m := c.sums[o][j] / float64(c.counts[o])
				d += (float64(v) - m) * (float64(v) - m)
			}
			out.Row(i)[o] = float32(-d + c.s.Noise*float64(rng.Norm32()))
		}
	}
	return out
}

func (c *centroid) SetInferenceSeed(seed uint64) { c.seed = seed }

// deterministicCentroid hides SetInferenceSeed.
type deterministicCentroid struct{ *centroid }

var fakeCatalog = methods.Catalog{
	{Name: "centroid", Summary: "nearest class mean", Settings: func() any { return &centroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := newCentroid(p, raw)
			if err != nil {
				return nil, err
			}
			return deterministicCentroid{l.(*centroid)}, nil
		}},
	{Name: "noisy-centroid", Summary: "nearest class mean with noisy scores", Settings: func() any { return &centroidSettings{Noise: 1} },
		New: newCentroid, Stochastic: true},
}

// fakeClasses knows the synthetic dataset of the tests.
func fakeClasses(name string) (int, error) {
	if name == "synthetic" {
		return 4, nil
	}
	return tasks.NumClasses(name)
}
