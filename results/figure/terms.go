package figure

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/results"
)

// drawTerms draws the named terms of the training logs (what each rule's
// loss is made of, a learned schedule's state): one panel per term, one
// line per configuration, mean over seeds at each epoch position. For a
// rule trained part by part (NoProp-DT's blocks) a position holds the mean
// over its parts.
func drawTerms(d *Data) (*Figure, error) {
	var names []string
	seen := map[string]bool{}
	for i := range d.Configs {
		for _, log := range d.Configs[i].Epochs {
			for _, e := range log {
				for _, t := range e.Terms {
					if !seen[t.Name] {
						seen[t.Name] = true
						names = append(names, t.Name)
					}
				}
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the selected runs store no loss terms (NoProp's rules log them): %w", ErrNoData)
	}
	colors := series(len(d.Configs))
	style := func(i int) draw.LineStyle {
		return draw.LineStyle{Color: colors[i], Width: vg.Points(1.4)}
	}
	const perRow = 3
	var rows [][]*plot.Plot
	var row []*plot.Plot
	for _, name := range names {
		p := newPlot(name, "epoch, tasks in turn", name)
		p.Add(gridLines{})
		lo, hi := math.Inf(1), math.Inf(-1)
		var lines []plot.Plotter
		for i := range d.Configs {
			xs, ys, starts := termCurve(&d.Configs[i], name)
			for _, v := range ys {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			for _, seg := range byTask(xs, ys, starts) {
				if l := curve(seg[0], seg[1], style(i)); l != nil {
					lines = append(lines, l)
				}
			}
		}
		if lo > 0 && hi/lo > 50 {
			p.Y.Scale = plot.LogScale{}
			p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		}
		p.Add(lines...)
		row = append(row, p)
		if len(row) == perRow {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	lg := newLegend()
	for i := range d.Configs {
		l, _ := plotter.NewLine(plotter.XYs{{}, {}})
		l.LineStyle = style(i)
		c := &d.Configs[i]
		lg.add(fmt.Sprintf("%s (%s)", c.Method(), c.Seeds()), l)
	}
	return layout{
		kind:  Terms,
		title: "Loss terms and schedule per epoch, mean over seeds",
		rows:  rows, tileW: 260, tileH: 220, legend: lg,
	}.figure(), nil
}

// termCurve is the named term of one configuration at each epoch
// position (see curvesOf), averaged over the parts that report it there,
// with the tasks' first positions.
func termCurve(c *Config, name string) (xs, ys, starts []float64) {
	lc := curvesOf(c, func(e results.Epoch) float64 {
		for _, t := range e.Terms {
			if t.Name == name {
				return t.Value
			}
		}
		return math.NaN()
	})
	sum, n := map[float64]float64{}, map[float64]int{}
	for _, p := range lc.parts {
		for k, x := range lc.xs[p] {
			if v := lc.mean[p][k]; !math.IsNaN(v) {
				sum[x] += v
				n[x]++
			}
		}
	}
	for x := range sum {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	for _, x := range xs {
		ys = append(ys, sum[x]/float64(n[x]))
	}
	return xs, ys, lc.taskStart
}
