package figure

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/results"
)

// averageRun is one seed of a configuration of averageStore: its accuracy
// matrix, rows 0..T.
type averageRun struct {
	method, strategy, scenario string
	seed                       uint64
	matrix                     [][]float64
}

// The fake database of the average figure's tests: fine-tuning and joint
// in class-IL, fine-tuning alone in task-IL, two seeds each, three tasks.
// The cells above the diagonal and row 0 must not count.
var averageRuns = []averageRun{
	{"m", "", "class", 1, [][]float64{{10, 10, 10}, {90, 11, 12}, {60, 80, 13}, {30, 50, 70}}},
	{"m", "", "class", 2, [][]float64{{10, 10, 10}, {80, 11, 12}, {40, 100, 13}, {20, 40, 60}}},
	{"m", "joint", "class", 1, [][]float64{{10, 10, 10}, {90, 80, 70}, {90, 80, 70}, {90, 80, 70}}},
	{"m", "joint", "class", 2, [][]float64{{10, 10, 10}, {80, 70, 60}, {80, 70, 60}, {80, 70, 60}}},
	{"m", "", "task", 1, [][]float64{{50, 50, 50}, {99, 50, 50}, {97, 98, 50}, {96, 94, 95}}},
	{"m", "", "task", 2, [][]float64{{50, 50, 50}, {99, 50, 50}, {95, 98, 50}, {96, 92, 95}}},
}

func averageData(t *testing.T) *Data {
	t.Helper()
	s, err := results.Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	for _, r := range averageRuns {
		spec := fmt.Sprintf(`{"method":%q,"strategy":%q,"scenario":%q,"seed":%d}`, r.method, r.strategy, r.scenario, r.seed)
		id, err := s.StartRun(ctx, results.Run{SpecJSON: spec, ConfigHash: r.strategy + r.scenario, Method: r.method,
			Stream: "split-mnist", Scenario: r.scenario, Seed: r.seed, NumTasks: 3})
		if err != nil {
			t.Fatal(err)
		}
		for i, row := range r.matrix {
			if err := s.RecordEval(ctx, id, i, results.EvalRow{Acc: row}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.FinishRun(ctx, id, nil, results.Memory{}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Load(ctx, s, results.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAverageValues: a panel per scenario, a line per configuration whose
// points are the mean over seeds of row i's mean over tasks 1..i, with the
// SE over seeds of those means; the joint bound dashed, fine-tuning solid.
func TestAverageValues(t *testing.T) {
	panels := averagePanels(averageData(t))
	type want struct {
		label    string
		mean, se []float64
		dashed   bool
	}
	wants := map[string][]want{
		// Seed 1: 90, (60+80)/2, (30+50+70)/3; seed 2: 80, (40+100)/2, (20+40+60)/3.
		// Joint, seed 1: 90, 85, 80; seed 2: 80, 75, 70.
		"split-mnist, class-IL (2 seeds)": {
			{"m (finetune)", []float64{85, 70, 45}, []float64{5, 0, 5}, false},
			{"m (joint)", []float64{85, 80, 75}, []float64{5, 5, 5}, true},
		},
		// Seed 1: 99, 97.5, 95; seed 2: 99, 96.5, 94.33...
		"split-mnist, task-IL (2 seeds)": {
			{"m (finetune)", []float64{99, 97, (95 + 283.0/3) / 2}, []float64{0, 0.5, (95 - 283.0/3) / 2}, false},
		},
	}
	if len(panels) != len(wants) {
		t.Fatalf("%d panels, want one per scenario: %d", len(panels), len(wants))
	}
	for _, pn := range panels {
		ws, ok := wants[pn.title]
		if !ok || len(pn.lines) != len(ws) || pn.tasks != 3 {
			t.Errorf("panel %q of %d tasks with %d lines, want one of %v with %d", pn.title, pn.tasks, len(pn.lines), wants, len(ws))
			continue
		}
		for i, w := range ws {
			l := pn.lines[i]
			if l.label != w.label || (len(l.style.Dashes) > 0) != w.dashed {
				t.Errorf("%s: line %q dashed %v, want %q dashed %v", pn.title, l.label, l.style.Dashes, w.label, w.dashed)
			}
			for k := range w.mean {
				if math.Abs(l.mean[k]-w.mean[k]) > 1e-9 || math.Abs(l.se[k]-w.se[k]) > 1e-9 {
					t.Errorf("%s, %s after task %d: %v ± %v, want %v ± %v", pn.title, l.label, k+1, l.mean[k], l.se[k], w.mean[k], w.se[k])
				}
			}
		}
	}
	if ft, j := panels[0].lines[0].style.Color, panels[0].lines[1].style.Color; ft == j {
		t.Error("fine-tuning and joint share a colour")
	}
	if a, b := panels[0].lines[0].style.Color, panels[1].lines[0].style.Color; a != b {
		t.Error("one configuration label has two colours in two panels")
	}
}

// TestAverageDrawsEveryConfigurationOnOnePanel: all the configurations
// of one scenario share an axis, in one figure whose title fits.
func TestAverageDrawsEveryConfigurationOnOnePanel(t *testing.T) {
	d := averageData(t)
	one := &Data{Configs: d.Configs[:2]}
	if one.Configs[0].Summary.Scenario != one.Configs[1].Summary.Scenario {
		t.Fatalf("configurations 1 and 2 in scenarios %q and %q", one.Configs[0].Summary.Scenario, one.Configs[1].Summary.Scenario)
	}
	for _, tc := range []struct {
		d      *Data
		panels int
	}{{one, 1}, {d, 2}} {
		if n := len(averagePanels(tc.d)); n != tc.panels {
			t.Errorf("%d configurations: %d panels, want %d", len(tc.d.Configs), n, tc.panels)
		}
		f, err := Draw(Average, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if !f.titleFits || inked(decode(t, f)) == 0 {
			t.Errorf("%d configurations: title %q fits %v, figure blank or not", len(tc.d.Configs), f.Title, f.titleFits)
		}
	}
}

// The bounds' names are the harness's.
func TestBoundsAreTheHarnessStrategies(t *testing.T) {
	if strategyJoint != harness.StrategyJoint || strategyCumulative != harness.StrategyCumulative || strategyFinetune != harness.StrategyFinetune {
		t.Errorf("strategies %q, %q, %q, want the harness's %q, %q, %q", strategyJoint, strategyCumulative, strategyFinetune,
			harness.StrategyJoint, harness.StrategyCumulative, harness.StrategyFinetune)
	}
	if len(boundDashes[strategyCumulative]) == 0 || len(boundDashes[strategyJoint]) == 0 || len(boundDashes[strategyFinetune]) != 0 {
		t.Errorf("dashes %v: want the bounds dashed, fine-tuning solid", boundDashes)
	}
}
