package figure

import (
	"cmp"
	"fmt"
	"image/color"
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

// A Reference is a published curve to hold measured ones against (a
// paper's figure read off at a few epochs), drawn on every panel of a
// compare figure.
type Reference struct {
	Label  string
	Points []plotter.XY // epoch, value
}

// ParseReference reads a reference written LABEL=X:Y,X:Y,… (epochs and
// values, e.g. "Figure 3, CT=19:13,60:22.6"), with at least one point.
func ParseReference(s string) (Reference, error) {
	label, pts, ok := strings.Cut(s, "=")
	label = strings.TrimSpace(label)
	if !ok || label == "" || strings.TrimSpace(pts) == "" {
		return Reference{}, fmt.Errorf("reference %q: want LABEL=EPOCH:VALUE,EPOCH:VALUE,…", s)
	}
	var r Reference
	r.Label = label
	for _, p := range strings.Split(pts, ",") {
		xs, ys, ok := strings.Cut(strings.TrimSpace(p), ":")
		x, errX := strconv.ParseFloat(xs, 64)
		y, errY := strconv.ParseFloat(ys, 64)
		if !ok || errX != nil || errY != nil || math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return Reference{}, fmt.Errorf("reference %q: point %q is not EPOCH:VALUE (two finite numbers)", s, p)
		}
		r.Points = append(r.Points, plotter.XY{X: x, Y: y})
	}
	slices.SortFunc(r.Points, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	return r, nil
}

// drawCompare draws the learning curves (test accuracy during training) of
// every configuration on one axis, a panel per stream and scenario, with
// the references (Data.References) dashed. A configuration's curve is its
// model's: the whole model's log line, or for a rule trained part by part
// (NoProp-DT's blocks) the whole chain after its last part's pass.
func drawCompare(d *Data) (*Figure, error) {
	colors := series(len(d.Configs))
	index := map[*Config]int{}
	for i := range d.Configs {
		index[&d.Configs[i]] = i
	}
	style := func(i int) (draw.LineStyle, draw.GlyphStyle) {
		return draw.LineStyle{Color: colors[i], Width: vg.Points(1.4)},
			draw.GlyphStyle{Color: colors[i], Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
	}
	refLine := func(k int) (draw.LineStyle, draw.GlyphStyle) {
		grey := color.Gray{Y: uint8(90 + 50*(k%3))}
		return draw.LineStyle{Color: grey, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}},
			draw.GlyphStyle{Color: grey, Radius: vg.Points(2.6), Shape: draw.BoxGlyph{}}
	}
	var row []*plot.Plot
	drawn := false
	for _, set := range d.settings() {
		p := newPlot(set[0].Setting(), "epoch, tasks in turn", "test accuracy (%) of the task being learned")
		p.Add(gridLines{})
		for _, c := range set {
			lc := curvesOf(c, func(e results.Epoch) float64 { return e.TestAcc })
			if len(lc.parts) == 0 {
				continue
			}
			part := lc.parts[len(lc.parts)-1] // parts sort "" (the whole model) first
			if slices.Contains(lc.parts, "") {
				part = ""
			}
			ls, gs := style(index[c])
			for _, seg := range byTask(lc.xs[part], lc.mean[part], lc.taskStart) {
				if l := curve(seg[0], seg[1], ls); l != nil {
					p.Add(l)
				}
			}
			if s := points(lc.xs[part], lc.mean[part], gs); s != nil {
				p.Add(s)
				drawn = true
			}
		}
		for k, r := range d.References {
			ls, gs := refLine(k)
			if l, err := plotter.NewLine(plotter.XYs(r.Points)); err == nil {
				l.LineStyle = ls
				p.Add(l)
			}
			if s, err := plotter.NewScatter(plotter.XYs(r.Points)); err == nil {
				s.GlyphStyle = gs
				p.Add(s)
			}
		}
		row = append(row, p)
	}
	if !drawn {
		return nil, fmt.Errorf("the selected runs store no learning curve (run them with --test-every): %w", ErrNoData)
	}
	lg := newLegend()
	entry := func(name string, ls draw.LineStyle, gs draw.GlyphStyle) {
		l, _ := plotter.NewLine(plotter.XYs{{}, {}})
		l.LineStyle = ls
		s, _ := plotter.NewScatter(plotter.XYs{{}})
		s.GlyphStyle = gs
		lg.add(name, l, s)
	}
	for i := range d.Configs {
		c := &d.Configs[i]
		ls, gs := style(i)
		entry(fmt.Sprintf("%s (%s)", c.Method(), c.Seeds()), ls, gs)
	}
	for k, r := range d.References {
		ls, gs := refLine(k)
		entry(r.Label, ls, gs)
	}
	return layout{
		kind:  Compare,
		title: "Learning curves: test accuracy during training, every configuration, mean over seeds",
		rows:  [][]*plot.Plot{row}, tileW: 420, tileH: 320, legend: lg,
	}.figure(), nil
}
