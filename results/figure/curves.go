package figure

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// band returns the polygon mean ± se over xs, or nil when fewer than two
// points have a finite spread.
func band(xs, mean, se []float64, fill color.Color) *plotter.Polygon {
	var upper, lower plotter.XYs
	for i, x := range xs {
		if math.IsNaN(mean[i]) || math.IsNaN(se[i]) {
			continue
		}
		upper = append(upper, plotter.XY{X: x, Y: mean[i] + se[i]})
		lower = append(lower, plotter.XY{X: x, Y: mean[i] - se[i]})
	}
	if len(upper) < 2 {
		return nil
	}
	for i := len(lower) - 1; i >= 0; i-- {
		upper = append(upper, lower[i])
	}
	poly, err := plotter.NewPolygon(upper)
	if err != nil {
		return nil
	}
	poly.Color = fill
	poly.LineStyle.Width = 0
	return poly
}

// finite returns the points (xs[i], ys[i]) whose y is not NaN.
func finite(xs, ys []float64) plotter.XYs {
	var pts plotter.XYs
	for i, x := range xs {
		if !math.IsNaN(ys[i]) {
			pts = append(pts, plotter.XY{X: x, Y: ys[i]})
		}
	}
	return pts
}

// curve returns the line through the finite points of ys over xs, or nil
// when none is finite.
func curve(xs, ys []float64, sty draw.LineStyle) *plotter.Line {
	pts := finite(xs, ys)
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil
	}
	l.LineStyle = sty
	return l
}

// points returns markers at the finite points of ys over xs, or nil when
// none is finite.
func points(xs, ys []float64, glyph draw.GlyphStyle) *plotter.Scatter {
	pts := finite(xs, ys)
	if len(pts) == 0 {
		return nil
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return nil
	}
	s.GlyphStyle = glyph
	return s
}

func drawCurves(d *Data) (*Figure, error) {
	maxTasks := 0
	for _, c := range d.Configs {
		maxTasks = max(maxTasks, c.NumTasks())
	}
	colors := series(maxTasks)
	lineStyle := func(j int) draw.LineStyle {
		return draw.LineStyle{Color: colors[j], Width: vg.Points(1.6)}
	}
	glyph := func(j int) draw.GlyphStyle {
		return draw.GlyphStyle{Color: colors[j], Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
	}
	avgLine := draw.LineStyle{Color: color.Black, Width: vg.Points(2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	avgGlyph := draw.GlyphStyle{Color: color.Black, Radius: vg.Points(2.2), Shape: draw.SquareGlyph{}}

	var rows [][]*plot.Plot
	for _, set := range d.settings() {
		var row []*plot.Plot
		for _, c := range set {
			T := c.NumTasks()
			p := newPlot(fmt.Sprintf("%s (%s)\n%s", c.Method(), c.Seeds(), c.Setting()),
				"tasks learned", "accuracy (%)")
			p.Add(gridLines{})
			p.Y.Min, p.Y.Max = 0, 100
			p.X.Min, p.X.Max = 0.8, float64(T)+0.2
			p.X.Tick.Marker = taskTicks{n: T}
			for j := 1; j <= T; j++ {
				xs, ys, es := make([]float64, 0, T), make([]float64, 0, T), make([]float64, 0, T)
				for i := j; i <= T; i++ {
					xs = append(xs, float64(i))
					ys = append(ys, c.Mean[i][j-1])
					es = append(es, c.SE[i][j-1])
				}
				if b := band(xs, ys, es, translucent(colors[j-1], 0.18)); b != nil {
					p.Add(b)
				}
				if l := curve(xs, ys, lineStyle(j-1)); l != nil {
					p.Add(l)
				}
				if s := points(xs, ys, glyph(j-1)); s != nil {
					p.Add(s)
				}
			}
			xs := make([]float64, T)
			for i := range xs {
				xs[i] = float64(i + 1)
			}
			mean, se := averageLearned(c.Matrices)
			if b := band(xs, mean, se, translucent(color.Black, 0.12)); b != nil {
				p.Add(b)
			}
			if l := curve(xs, mean, avgLine); l != nil {
				p.Add(l)
			}
			if s := points(xs, mean, avgGlyph); s != nil {
				p.Add(s)
			}
			row = append(row, p)
		}
		rows = append(rows, row)
	}
	lg := newLegend()
	for j := range maxTasks {
		l, _ := plotter.NewLine(plotter.XYs{{}, {}})
		l.LineStyle = lineStyle(j)
		s, _ := plotter.NewScatter(plotter.XYs{{}})
		s.GlyphStyle = glyph(j)
		lg.add(fmt.Sprintf("task %d", j+1), l, s)
	}
	l, _ := plotter.NewLine(plotter.XYs{{}, {}})
	l.LineStyle = avgLine
	lg.add("average of tasks learned", l)
	lg.add("band: ± SE over seeds", swatch{translucent(color.Black, 0.18)})
	return layout{
		kind:  Curves,
		title: "Accuracy on each task after each task learned, mean over seeds",
		rows:  rows, tileW: 300, tileH: 250, legend: lg,
	}.figure(), nil
}
