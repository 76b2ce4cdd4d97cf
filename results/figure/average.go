package figure

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// The strategies as specs spell them (harness.StrategyFinetune, ...): the
// figure package does not import the harness.
const (
	strategyFinetune   = "finetune"
	strategyCumulative = "cumulative"
	strategyJoint      = "joint"
)

// boundDashes are the dash patterns of the bounds' lines in the average
// figure: the strategies that train on earlier tasks' data, joint and
// cumulative, are drawn dashed (each its own pattern), the others solid.
var boundDashes = map[string][]vg.Length{
	strategyJoint:      {vg.Points(6), vg.Points(3)},
	strategyCumulative: {vg.Points(2), vg.Points(2)},
}

// averageLearned returns the mean over runs, and its standard error, of
// each run's average accuracy over the tasks learned so far after task i
// (metrics.LearnedAccuracy, A_i), for i = 1..T.
func averageLearned(ms [][][]float64) (mean, se []float64) {
	T := len(ms[0]) - 1
	mean, se = make([]float64, T), make([]float64, T)
	for i := 1; i <= T; i++ {
		perRun := make([]float64, len(ms))
		for k, m := range ms {
			perRun[k] = metrics.LearnedAccuracy(m, i)
		}
		st := results.NewStat(perRun, nil)
		mean[i-1], se[i-1] = st.Mean, st.SE
	}
	return mean, se
}

// An averageLine is one configuration in the average figure: A_i after
// each task i (mean and SE over seeds, index i-1), its label and style.
type averageLine struct {
	label    string
	mean, se []float64
	style    draw.LineStyle
}

// An averagePanel is one stream and scenario of the average figure, with
// a line per configuration.
type averagePanel struct {
	title string
	tasks int
	lines []averageLine
}

// averageLabel names a configuration in the average figure: method,
// preset and strategy, fine-tuning named too since the lines compare
// strategies, and what tells alike configurations apart (Config.Method).
func averageLabel(c *Config) string {
	named := *c
	if named.Strategy == "" {
		named.Strategy = strategyFinetune
	}
	return named.Method()
}

// averagePanels lays out the average figure: a panel per stream and
// scenario (d.settings), a line per configuration, one colour per label
// over all panels.
func averagePanels(d *Data) []averagePanel {
	index := map[string]int{}
	for i := range d.Configs {
		l := averageLabel(&d.Configs[i])
		if _, ok := index[l]; !ok {
			index[l] = len(index)
		}
	}
	colors := series(len(index))
	var panels []averagePanel
	for _, set := range d.settings() {
		pn := averagePanel{title: fmt.Sprintf("%s (%s)", set[0].Setting(), seedRange(set))}
		for _, c := range set {
			l := averageLabel(c)
			mean, se := averageLearned(c.Matrices)
			pn.tasks = max(pn.tasks, len(mean))
			pn.lines = append(pn.lines, averageLine{label: l, mean: mean, se: se, style: draw.LineStyle{
				Color: colors[index[l]], Width: vg.Points(1.8), Dashes: boundDashes[c.Strategy]}})
		}
		panels = append(panels, pn)
	}
	return panels
}

// seedRange describes the seeds of configurations: "3 seeds", "1–3 seeds".
func seedRange(set []*Config) string {
	lo, hi := set[0].Summary.N, set[0].Summary.N
	for _, c := range set {
		lo, hi = min(lo, c.Summary.N), max(hi, c.Summary.N)
	}
	switch {
	case lo != hi:
		return fmt.Sprintf("%d–%d seeds", lo, hi)
	case lo == 1:
		return "1 seed"
	}
	return fmt.Sprintf("%d seeds", lo)
}

func (l averageLine) glyph() draw.GlyphStyle {
	return draw.GlyphStyle{Color: l.style.Color, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
}

// plot draws the panel: the bands under every line, then the lines.
func (pn averagePanel) plot() *plot.Plot {
	p := newPlot(pn.title, "tasks learned", "average accuracy on tasks learned (%)")
	p.Add(gridLines{})
	p.Y.Min, p.Y.Max = 0, 100
	p.X.Min, p.X.Max = 0.8, float64(pn.tasks)+0.2
	p.X.Tick.Marker = taskTicks{n: pn.tasks}
	xs := make([]float64, pn.tasks)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for _, l := range pn.lines {
		if b := band(xs[:len(l.mean)], l.mean, l.se, translucent(l.style.Color, 0.15)); b != nil {
			p.Add(b)
		}
	}
	for _, l := range pn.lines {
		if c := curve(xs[:len(l.mean)], l.mean, l.style); c != nil {
			p.Add(c)
		}
		if s := points(xs[:len(l.mean)], l.mean, l.glyph()); s != nil {
			p.Add(s)
		}
	}
	return p
}

// drawAverage draws the standard continual-learning figure: the average
// accuracy over the tasks learned so far against the number of tasks
// learned, every configuration on one axis per stream and scenario, the
// bounds dashed.
func drawAverage(d *Data) (*Figure, error) {
	const perRow = 3
	var rows [][]*plot.Plot
	var row []*plot.Plot
	lg := newLegend()
	seen := map[string]bool{}
	for _, pn := range averagePanels(d) {
		row = append(row, pn.plot())
		if len(row) == perRow {
			rows, row = append(rows, row), nil
		}
		for _, l := range pn.lines {
			if seen[l.label] {
				continue
			}
			seen[l.label] = true
			line, _ := plotter.NewLine(plotter.XYs{{}, {}})
			line.LineStyle = l.style
			s, _ := plotter.NewScatter(plotter.XYs{{}})
			s.GlyphStyle = l.glyph()
			lg.add(l.label, line, s)
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	lg.add("band: ± SE over seeds", swatch{translucent(color.Black, 0.18)})
	return layout{
		kind:  Average,
		title: "Average accuracy on the tasks learned so far, mean over seeds",
		rows:  rows, tileW: 320, tileH: 270, legend: lg,
	}.figure(), nil
}
