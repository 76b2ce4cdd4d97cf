package backprop

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

func TestSettingsErrorsNameTheField(t *testing.T) {
	tests := []struct {
		settings string
		want     string
	}{
		{`{"hidden":[]}`, "hidden"},
		{`{"hidden":[10,0]}`, "hidden = [10,0]: element 2 must be in [1, 16384]"},
		{`{"lr":0}`, "lr"},
		{`{"lr":-1}`, "lr"},
		{`{"batch_size":0}`, "batch_size"},
		{`{"iterations":0,"epochs":0}`, "iterations"},
		{`{"optimizer":"rmsprop"}`, "optimizer"},
		{`{"init":"zeros"}`, "init"},
		{`{"learning_rate":0.1}`, "learning_rate"},
		{`{"lr":"fast"}`, "lr"},
	}
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 4}, Outputs: 2, Seed: 1}
	for _, tc := range tests {
		_, err := Method.New(p, json.RawMessage(tc.settings))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.settings, err, tc.want)
		}
	}
}

func TestLearnsAndMasksOutputs(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 100, TestPer: 50, Shape: tasks.Shape{C: 1, H: 1, W: 10}, Noise: 0.2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Method.New(methods.Problem{Input: ds.Train.Shape, Outputs: 4, Seed: 5}, json.RawMessage(`{"hidden":[32],"iterations":300,"batch_size":32}`))
	if err != nil {
		t.Fatal(err)
	}
	// Learn only classes 2 and 3.
	var idx []int
	for i, y := range ds.Train.Y {
		if y >= 2 {
			idx = append(idx, i)
		}
	}
	var reports []methods.EpochStats
	if err := l.Learn(context.Background(), ds.Train.Subset(idx), []int{2, 3}, methods.ObserverFunc(func(e methods.EpochStats) { reports = append(reports, e) })); err != nil {
		t.Fatal(err)
	}
	if len(reports) == 0 || reports[len(reports)-1].TrainAcc < 95 {
		t.Fatalf("reports %+v: want a final train accuracy ≥ 95%%", reports)
	}
	scores := l.Scores(nn.Matrix{Rows: ds.Test.Len(), Cols: 10, Data: ds.Test.X}, []int{2, 3})
	correct, n := 0, 0
	for i, y := range ds.Test.Y {
		if y < 2 {
			continue
		}
		n++
		if r := scores.Row(i); (r[3] > r[2]) == (y == 3) {
			correct++
		}
	}
	if acc := 100 * float64(correct) / float64(n); acc < 95 {
		t.Errorf("test accuracy on the learned pair %.1f%%, want ≥ 95", acc)
	}
}

func TestLearnStopsOnCancel(t *testing.T) {
	ds, _ := tasks.Synthetic(tasks.SyntheticConfig{Classes: 2, TrainPer: 10, TestPer: 1, Shape: tasks.Shape{C: 1, H: 1, W: 3}, Seed: 1})
	l, err := Method.New(methods.Problem{Input: ds.Train.Shape, Outputs: 2, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Learn(ctx, ds.Train, []int{0, 1}, nil); err != context.Canceled {
		t.Errorf("Learn on a cancelled context returned %v", err)
	}
}
