package figure

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/results"
)

// partName names a training-log part in the legend.
func partName(p string) string {
	if p == "" {
		return "whole model"
	}
	return p
}

// lessPart orders parts by name with their numbers compared as numbers, so
// "block 2" comes before "block 10".
func lessPart(a, b string) bool {
	pa, na := splitNumber(a)
	pb, nb := splitNumber(b)
	if pa != pb {
		return pa < pb
	}
	return na < nb
}

func splitNumber(s string) (string, int) {
	i := strings.LastIndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, -1
	}
	return s[:i+1], n
}

// logCurves is one value of one configuration's training logs (the loss,
// or the test accuracy of a learning curve): per part, the mean over runs
// at each epoch position where a run measured it, and the first position of
// each task.
type logCurves struct {
	parts     []string
	xs        map[string][]float64
	mean      map[string][]float64
	taskStart []float64 // x where task t+1 starts, t = 0..T-1
}

// curvesOf lines up the runs' training logs: within each task the i-th log
// line of a part sits at the task's first position + i, and a task takes as
// many positions as its longest part's log in any run. A line whose value
// is NaN (not measured) adds nothing to its position's mean.
func curvesOf(c *Config, value func(results.Epoch) float64) logCurves {
	type key struct {
		part      string
		task, idx int
	}
	vals := map[key][]float64{}
	length := map[int]int{}
	parts := map[string]bool{}
	maxTask := 0
	for _, log := range c.Epochs {
		seen := map[[2]any]int{}
		for _, e := range log {
			k := [2]any{e.Part, e.Task}
			i := seen[k]
			seen[k]++
			length[e.Task] = max(length[e.Task], i+1)
			if v := value(e); !math.IsNaN(v) {
				vals[key{e.Part, e.Task, i}] = append(vals[key{e.Part, e.Task, i}], v)
				parts[e.Part] = true
			}
			maxTask = max(maxTask, e.Task)
		}
	}
	lc := logCurves{xs: map[string][]float64{}, mean: map[string][]float64{}}
	for p := range parts {
		lc.parts = append(lc.parts, p)
	}
	sort.Slice(lc.parts, func(i, j int) bool { return lessPart(lc.parts[i], lc.parts[j]) })
	start := make([]float64, maxTask+2)
	pos := 1.0
	for t := 1; t <= maxTask; t++ {
		start[t] = pos
		lc.taskStart = append(lc.taskStart, pos)
		pos += float64(length[t])
	}
	for _, p := range lc.parts {
		for t := 1; t <= maxTask; t++ {
			for i := range length[t] {
				xs, ok := vals[key{p, t, i}]
				if !ok {
					continue
				}
				lc.xs[p] = append(lc.xs[p], start[t]+float64(i))
				lc.mean[p] = append(lc.mean[p], results.NewStat(xs, nil).Mean)
			}
		}
	}
	return lc
}

// taskLines draws dotted vertical lines at the given x positions.
type taskLines []float64

func (t taskLines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := draw.LineStyle{Color: color.Gray{Y: 150}, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(2), vg.Points(2)}}
	for _, x := range t {
		c.StrokeLine2(sty, trX(x), c.Min.Y, trX(x), c.Max.Y)
	}
}

// logFigure is a figure of one value of the training logs.
type logFigure struct {
	kind          Kind
	value         func(results.Epoch) float64
	ylabel, title string
	missing       string // what no selected run stores
	logScale      bool   // a log y axis when the values span more than 50×
	// partLabel names a part in the legend; nil is partName.
	partLabel func(string) string
}

func drawLoss(d *Data) (*Figure, error) {
	return drawLog(d, logFigure{kind: Loss, value: func(e results.Epoch) float64 { return e.Loss },
		ylabel: "training loss", title: "Training loss per epoch, mean over seeds", missing: "no training log", logScale: true})
}

func drawTest(d *Data) (*Figure, error) {
	return drawLog(d, logFigure{kind: Test, value: func(e results.Epoch) float64 { return e.TestAcc },
		ylabel: "test accuracy (%) of the task being learned", title: "Learning curve: test accuracy during training, mean over seeds",
		missing:   "no learning curve (run them with --test-every)",
		partLabel: curvePart})
}

// curvePart names a part of a learning curve: what was scored after it.
func curvePart(p string) string {
	if p == "" {
		return "the model after the epoch"
	}
	return "the whole chain after " + p + "'s pass"
}

func drawVal(d *Data) (*Figure, error) {
	return drawLog(d, logFigure{kind: Val, value: func(e results.Epoch) float64 { return e.ValAcc },
		ylabel: "validation accuracy (%) of the task being learned", title: "Learning curve: validation accuracy during training, mean over seeds",
		missing:   "no learning curve on the validation set (run them with --test-every N --curve-on val --validation F)",
		partLabel: curvePart})
}

func drawLog(d *Data, lf logFigure) (*Figure, error) {
	curves := make([]logCurves, len(d.Configs))
	var allParts []string
	seen := map[string]bool{}
	for i := range d.Configs {
		curves[i] = curvesOf(&d.Configs[i], lf.value)
		for _, p := range curves[i].parts {
			if !seen[p] {
				seen[p] = true
				allParts = append(allParts, p)
			}
		}
	}
	if len(allParts) == 0 {
		return nil, fmt.Errorf("the selected runs store %s: %w", lf.missing, ErrNoData)
	}
	sort.Slice(allParts, func(i, j int) bool { return lessPart(allParts[i], allParts[j]) })
	ps := newPartStyles(allParts)
	var rows [][]*plot.Plot
	k := 0
	for _, set := range d.settings() {
		var row []*plot.Plot
		for _, c := range set {
			row = append(row, lf.panel(c, curves[k], ps))
			k++
		}
		rows = append(rows, row)
	}
	lg := newLegend()
	label := lf.partLabel
	if label == nil {
		label = partName
	}
	for _, part := range allParts {
		l, _ := plotter.NewLine(plotter.XYs{{}, {}})
		l.LineStyle = ps.line(part)
		lg.add(label(part), l)
	}
	return layout{
		kind:  lf.kind,
		title: lf.title,
		rows:  rows, tileW: 300, tileH: 250, legend: lg,
	}.figure(), nil
}

// partStyles colours the parts of a log: the whole model black, parts
// (NoProp's blocks, in order) hues from blue to red.
type partStyles map[string]color.Color

func newPartStyles(parts []string) partStyles {
	var colors []color.Color
	if parts[0] == "" {
		colors = append([]color.Color{color.Black}, ramp(len(parts)-1)...)
	} else {
		colors = ramp(len(parts))
	}
	ps := partStyles{}
	for i, p := range parts {
		ps[p] = colors[i]
	}
	return ps
}

func (ps partStyles) line(p string) draw.LineStyle {
	return draw.LineStyle{Color: ps[p], Width: vg.Points(1.4)}
}

func (ps partStyles) glyph(p string) draw.GlyphStyle {
	return draw.GlyphStyle{Color: ps[p], Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
}

// panel is one configuration's plot of the logged value: a line and points
// per part, dotted lines where tasks change.
func (lf logFigure) panel(c *Config, lc logCurves, ps partStyles) *plot.Plot {
	p := newPlot(fmt.Sprintf("%s (%s)\n%s", c.Method(), c.Seeds(), c.Setting()),
		"epoch, tasks in turn (dotted: next task)", lf.ylabel)
	p.Add(gridLines{})
	if len(lc.taskStart) > 1 {
		var bounds taskLines
		for _, s := range lc.taskStart[1:] {
			bounds = append(bounds, s-0.5)
		}
		p.Add(bounds)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, part := range lc.parts {
		for _, v := range lc.mean[part] {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lf.logScale && lo > 0 && hi/lo > 50 {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	for _, part := range lc.parts {
		for _, seg := range byTask(lc.xs[part], lc.mean[part], lc.taskStart) {
			if l := curve(seg[0], seg[1], ps.line(part)); l != nil {
				p.Add(l)
			}
		}
		if s := points(lc.xs[part], lc.mean[part], ps.glyph(part)); s != nil {
			p.Add(s)
		}
	}
	return p
}

// byTask cuts a curve at the tasks' first positions (starts, ascending), so
// that no line joins the last epoch of one task to the first of the next.
func byTask(xs, ys, starts []float64) [][2][]float64 {
	var out [][2][]float64
	lo := 0
	for i := range xs {
		if i > lo && slices.ContainsFunc(starts, func(s float64) bool { return xs[i-1] < s && s <= xs[i] }) {
			out = append(out, [2][]float64{xs[lo:i], ys[lo:i]})
			lo = i
		}
	}
	if lo < len(xs) {
		out = append(out, [2][]float64{xs[lo:], ys[lo:]})
	}
	return out
}
