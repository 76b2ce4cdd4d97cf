// Package harnesstest holds what the harness's tests and its observers'
// tests share: a fake learning rule (a nearest-centroid classifier, with
// optional noise, so deterministic and stochastic), its catalog, and a
// small synthetic dataset.
package harnesstest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// centroid is a fake learning rule: it scores an
// example by minus its squared distance to the mean training example of
// each output learned so far. With noise > 0 it is stochastic: every score
// gets Gaussian noise drawn from its inference seed.
type centroid struct {
	s       CentroidSettings
	input   tasks.Shape
	sums    [][]float64
	counts  []int
	seed    uint64
	learned int
}

// CentroidSettings are the fake rule's settings.
type CentroidSettings struct {
	Noise float64 `json:"noise" range:"[0,)" help:"standard deviation of the score noise"`
	// FailOnTask makes Learn fail on that task (1-based); 0 never.
	FailOnTask int `json:"fail_on_task" range:"[0,)" help:"task on which Learn fails"`
}

// NewCentroid builds the fake rule (stochastic: it has SetInferenceSeed).
func NewCentroid(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
	s := CentroidSettings{}
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
	task, err := methods.NewTaskData(data, active, c.input, len(c.sums))
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

// Catalog holds the fake rule as "centroid" (deterministic) and
// "noisy-centroid" (stochastic).
var Catalog = methods.Catalog{
	{Name: "centroid", Summary: "nearest class mean", Settings: func() any { return &CentroidSettings{} },
		New: func(p methods.Problem, raw json.RawMessage) (methods.Learner, error) {
			l, err := NewCentroid(p, raw)
			if err != nil {
				return nil, err
			}
			return deterministicCentroid{l.(*centroid)}, nil
		}},
	{Name: "noisy-centroid", Summary: "nearest class mean with noisy scores", Settings: func() any { return &CentroidSettings{Noise: 1} },
		New: NewCentroid, Stochastic: true},
}

// Classes knows the synthetic dataset of Load beside the real ones.
func Classes(name string) (int, error) {
	if name == "synthetic" {
		return 4, nil
	}
	return tasks.NumClasses(name)
}

// Load returns the synthetic dataset (4 classes of 4×5 blobs) whatever
// the name.
func Load(string) (tasks.Dataset, error) {
	return tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 60, TestPer: 20, Shape: tasks.Shape{C: 1, H: 4, W: 5}, Noise: 0.3, Seed: 11})
}
