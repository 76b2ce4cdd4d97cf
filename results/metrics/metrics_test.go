package metrics

import (
	"math"
	"testing"
)

// A 3-task matrix with row 0 = untrained model.
var r3 = [][]float64{
	{10, 20, 30}, // b_j
	{90, 40, 35}, // after task 1
	{70, 80, 45}, // after task 2
	{60, 50, 85}, // after task 3
}

func TestMetricsHandComputed(t *testing.T) {
	tests := []struct {
		name string
		m    Metric
		want float64
	}{
		// (60+50+85)/3
		{"acc", AverageAccuracy(r3), 65},
		// task1: max(90,70)-60=30; task2: max(40,80)-50=30 -> 30
		{"forgetting", AverageForgetting(r3), 30},
		// task1: 90-60=30; task2: 80-50=30 -> -30
		{"bwt", BackwardTransfer(r3), -30},
		{"first-last", FirstLastForgetting(r3), 30},
		// task2: R[1][2]-b2 = 40-20 = 20; task3: R[2][3]-b3 = 45-30 = 15 -> 17.5
		{"fwt", ForwardTransfer(r3), 17.5},
		// A1=90, A2=(70+80)/2=75, A3=65 -> 76.666...
		{"incremental", IncrementalAccuracy(r3), (90 + 75 + 65) / 3.0},
		// A_2 = (70+80)/2: row 2, tasks 1..2 only.
		{"learned after task 2", Metric{Value: LearnedAccuracy(r3, 2)}, 75},
	}
	for _, tc := range tests {
		if math.Abs(tc.m.Value-tc.want) > 1e-9 || tc.m.Note != "" {
			t.Errorf("%s = %v (%q), want %v", tc.name, tc.m.Value, tc.m.Note, tc.want)
		}
	}
}

func TestForgettingUsesBestEarlierNotJustTrained(t *testing.T) {
	// Task 1 improves after task 2 (backward transfer), then drops.
	r := [][]float64{
		{0, 0, 0},
		{60, 0, 0},
		{95, 90, 0},
		{80, 90, 90},
	}
	// Chaudhry: task1 best earlier 95 -> 15; task2 best earlier 90 -> 0; mean 7.5.
	if got := AverageForgetting(r).Value; got != 7.5 {
		t.Errorf("forgetting %v, want 7.5", got)
	}
	// First-minus-last: task1 60-80=-20; task2 90-90=0; mean -10.
	if got := FirstLastForgetting(r).Value; got != -10 {
		t.Errorf("first-last forgetting %v, want -10", got)
	}
}

func TestMetricsUndefinedForOneTask(t *testing.T) {
	r := [][]float64{{50}, {97}}
	if m := AverageAccuracy(r); m.Value != 97 {
		t.Errorf("acc %v", m.Value)
	}
	for _, m := range []Metric{AverageForgetting(r), BackwardTransfer(r), ForwardTransfer(r), FirstLastForgetting(r)} {
		if !math.IsNaN(m.Value) || m.Note == "" {
			t.Errorf("%s on one task = %v with note %q, want NaN and a reason", m.Name, m.Value, m.Note)
		}
	}
}
