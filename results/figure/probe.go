package figure

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/results"
)

// probeCurves is a configuration's probe: its stages in the learner's
// order and, for each row i = 2..T of the accuracy matrix, each stage's
// accuracy on tasks 1..i−1 (the tasks learned before the last), averaged
// over those tasks and then over seeds.
type probeCurves struct {
	stages []string
	// old[i][k] is stage k's mean accuracy on the earlier tasks after
	// task i (NaN for rows 0 and 1, which have no earlier task).
	old [][]float64
}

func probeOf(c *Config) probeCurves {
	var pc probeCurves
	T := c.NumTasks()
	index := map[string]int{}
	for _, run := range c.Probe {
		for _, cell := range run {
			if _, ok := index[cell.Stage]; !ok {
				index[cell.Stage] = len(pc.stages)
				pc.stages = append(pc.stages, cell.Stage)
			}
		}
	}
	if len(pc.stages) == 0 {
		return pc
	}
	// The learner's order, whatever order the rows were stored in (an
	// import or merge may have sorted them by name: c1, c10, c2, ...).
	slices.SortStableFunc(pc.stages, compareStages)
	for k, st := range pc.stages {
		index[st] = k
	}
	pc.old = make([][]float64, T+1)
	for i := range pc.old {
		pc.old[i] = make([]float64, len(pc.stages))
		for k := range pc.old[i] {
			pc.old[i][k] = math.NaN()
		}
	}
	for i := 2; i <= T; i++ {
		for k := range pc.stages {
			var seeds []float64
			for _, run := range c.Probe {
				sum, n := 0.0, 0
				for _, cell := range run {
					if cell.AfterTask == i && cell.EvalTask < i && index[cell.Stage] == k && !math.IsNaN(cell.Accuracy) {
						sum += cell.Accuracy
						n++
					}
				}
				if n > 0 {
					seeds = append(seeds, sum/float64(n))
				}
			}
			if len(seeds) > 0 {
				pc.old[i][k] = results.NewStat(seeds, nil).Mean
			}
		}
	}
	return pc
}

// stageTicks labels the stages along the x axis by short names: dN for
// "denoise N", cN for "chain N", h for "head", e for "embedding".
type stageTicks []string

func (s stageTicks) Ticks(min, max float64) []plot.Tick {
	ts := make([]plot.Tick, len(s))
	for k, name := range s {
		ts[k] = plot.Tick{Value: float64(k + 1), Label: shortStage(name)}
	}
	return ts
}

// stageKinds orders the kinds of stage as the learners list them: the
// blocks as denoisers, along the chain, the head, the embedding rows.
var stageKinds = []string{"denoise", "chain", "head", embeddingStage}

// compareStages orders stage names by kind (stageKinds; other names after,
// by name), then by block number.
func compareStages(a, b string) int {
	kind := func(s string) (int, string, int) {
		name, num, _ := strings.Cut(s, " ")
		n, err := strconv.Atoi(num)
		if err != nil {
			n = -1
		}
		k := slices.Index(stageKinds, name)
		if k < 0 {
			k = len(stageKinds)
		}
		return k, name, n
	}
	ka, na, ia := kind(a)
	kb, nb, ib := kind(b)
	return cmp.Or(cmp.Compare(ka, kb), strings.Compare(na, nb), cmp.Compare(ia, ib), strings.Compare(a, b))
}

// embeddingStage is the stage the harness names for learned embedding
// rows (harness.EmbeddingStage, which this package does not import: it
// draws what the store holds).
const embeddingStage = "embedding"

func shortStage(name string) string {
	switch {
	case name == "head":
		return "h"
	case name == embeddingStage:
		return "e"
	case strings.HasPrefix(name, "denoise "):
		return "d" + strings.TrimPrefix(name, "denoise ")
	case strings.HasPrefix(name, "chain "):
		return "c" + strings.TrimPrefix(name, "chain ")
	}
	return name
}

func drawProbe(d *Data) (*Figure, error) {
	probes := make([]probeCurves, len(d.Configs))
	maxTasks, any, embedding := 0, false, false
	for i := range d.Configs {
		probes[i] = probeOf(&d.Configs[i])
		embedding = embedding || slices.Contains(probes[i].stages, embeddingStage)
		if len(probes[i].stages) > 0 && d.Configs[i].NumTasks() >= 2 {
			any = true
			maxTasks = max(maxTasks, d.Configs[i].NumTasks())
		}
	}
	if !any {
		return nil, fmt.Errorf("the selected runs store no probe of a stream of 2 tasks or more (run them with --probe): %w", ErrNoData)
	}
	colors := series(maxTasks)
	line := func(i int) draw.LineStyle { return draw.LineStyle{Color: colors[i-1], Width: vg.Points(1.6)} }
	glyph := func(i int) draw.GlyphStyle {
		return draw.GlyphStyle{Color: colors[i-1], Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
	}
	var rows [][]*plot.Plot
	k := 0
	for _, set := range d.settings() {
		var row []*plot.Plot
		for _, c := range set {
			pc := probes[k]
			k++
			if len(pc.stages) == 0 {
				continue
			}
			p := newPlot(fmt.Sprintf("%s (%s)\n%s", c.Method(), c.Seeds(), c.Setting()), "stage", "accuracy on earlier tasks (%)")
			p.Add(gridLines{})
			p.Y.Min, p.Y.Max = 0, 100
			p.X.Min, p.X.Max = 0.5, float64(len(pc.stages))+0.5
			p.X.Tick.Marker = stageTicks(pc.stages)
			xs := make([]float64, len(pc.stages))
			for s := range xs {
				xs[s] = float64(s + 1)
			}
			for i := 2; i < len(pc.old); i++ {
				if l := curve(xs, pc.old[i], line(i)); l != nil {
					p.Add(l)
				}
				if s := points(xs, pc.old[i], glyph(i)); s != nil {
					p.Add(s)
				}
			}
			row = append(row, p)
		}
		if len(row) > 0 {
			rows = append(rows, row)
		}
	}
	lg := newLegend()
	for i := 2; i <= maxTasks; i++ {
		l, _ := plotter.NewLine(plotter.XYs{{}, {}})
		l.LineStyle = line(i)
		lg.add(fmt.Sprintf("after task %d: tasks 1–%d", i, i-1), l)
	}
	lg.add("dN: block N as a denoiser, on z from q(z|y)", noMark{})
	lg.add("cN: block N along the chain from noise", noMark{})
	lg.add("h: the head (NoProp-DT: on z_T from q(z_T|y))", noMark{})
	if embedding {
		lg.add("e: learned embedding rows, 100 × cosine to", noMark{})
		lg.add("    themselves just after their task", noMark{})
	}
	return layout{
		kind:  Probe,
		title: "Where forgetting happens: each stage's accuracy on the tasks learned before, mean over seeds",
		rows:  rows, tileW: 420, tileH: 260, legend: lg,
	}.figure(), nil
}

// noMark is a legend entry's empty thumbnail: a line of the legend that
// explains, beside no mark.
type noMark struct{}

func (noMark) Thumbnail(*draw.Canvas) {}
