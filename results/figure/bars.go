package figure

import (
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// bar is one bar of a grouped bar chart, centred at x, width wide (data
// units), with a standard-error bar when se is finite.
type bar struct {
	x, width float64
	st       results.Stat
	fill     color.Color
}

// bars draws bars from 0 with error bars and, where it fits, the value on
// top; a bar whose value is undefined shows "n/a".
type bars struct {
	bars     []bar
	decimals int
}

func (b bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, r := range b.bars {
		xmin, xmax = math.Min(xmin, r.x-r.width/2), math.Max(xmax, r.x+r.width/2)
		ymin, ymax = math.Min(ymin, lowEnd(r.st)), math.Max(ymax, highEnd(r.st))
	}
	return xmin, xmax, ymin, ymax
}

func lowEnd(st results.Stat) float64 {
	if math.IsNaN(st.Mean) {
		return 0
	}
	if math.IsNaN(st.SE) {
		return math.Min(0, st.Mean)
	}
	return math.Min(0, st.Mean-st.SE)
}

func highEnd(st results.Stat) float64 {
	if math.IsNaN(st.Mean) {
		return 0
	}
	if math.IsNaN(st.SE) {
		return math.Max(0, st.Mean)
	}
	return math.Max(0, st.Mean+st.SE)
}

func (b bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	label := textStyle(7.5)
	label.YAlign = draw.YBottom
	errSty := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	for _, r := range b.bars {
		x0, x1 := trX(r.x-r.width/2), trX(r.x+r.width/2)
		xc := (x0 + x1) / 2
		if math.IsNaN(r.st.Mean) {
			c.FillText(label, vg.Point{X: xc, Y: trY(0) + 2}, "n/a")
			continue
		}
		y0, y1 := trY(0), trY(r.st.Mean)
		rect := vg.Rectangle{Min: vg.Point{X: x0, Y: min(y0, y1)}, Max: vg.Point{X: x1, Y: max(y0, y1)}}
		c.SetColor(r.fill)
		c.Fill(rect.Path())
		top := y1
		if !math.IsNaN(r.st.SE) && r.st.SE > 0 {
			lo, hi := trY(r.st.Mean-r.st.SE), trY(r.st.Mean+r.st.SE)
			capW := (x1 - x0) / 4
			c.StrokeLine2(errSty, xc, lo, xc, hi)
			c.StrokeLine2(errSty, xc-capW, lo, xc+capW, lo)
			c.StrokeLine2(errSty, xc-capW, hi, xc+capW, hi)
			top = max(top, hi)
		}
		text := fmt.Sprintf("%.*f", b.decimals, r.st.Mean)
		if label.Width(text)+2 <= x1-x0+4 {
			c.FillText(label, vg.Point{X: xc, Y: max(top, y0) + 2}, text)
		}
	}
}

// groupTicks labels group g at x = g.
type groupTicks []string

func (t groupTicks) Ticks(min, max float64) []plot.Tick {
	ts := make([]plot.Tick, len(t))
	for i, l := range t {
		ts[i] = plot.Tick{Value: float64(i), Label: l}
	}
	return ts
}

// A panel is one bar chart of a grouped-bars figure: a value per
// configuration.
type panel struct {
	title, yLabel string
	value         func(*Config) results.Stat
	// percent fixes the axis to 0..100 (or below 0 when a bar reaches it).
	percent  bool
	decimals int
}

// groupedBars draws one panel per entry of panels, side by side: groups
// of bars per stream and scenario, one bar (and colour) per method.
func groupedBars(d *Data, kind Kind, title string, panels []panel) (*Figure, error) {
	sets := d.settings()
	var methods []string
	index := map[string]int{}
	for _, c := range d.Configs {
		if _, ok := index[c.Method()]; !ok {
			index[c.Method()] = len(methods)
			methods = append(methods, c.Method())
		}
	}
	colors := series(len(methods))
	width := 0.8 / float64(len(methods))
	groups := make(groupTicks, len(sets))
	for g, set := range sets {
		groups[g] = strings.Replace(set[0].Setting(), ", ", "\n", 1)
	}
	var row []*plot.Plot
	drawn := false
	for _, pn := range panels {
		var bs []bar
		for g, set := range sets {
			for _, c := range set {
				st := pn.value(c)
				m := index[c.Method()]
				x := float64(g) + (float64(m)-float64(len(methods)-1)/2)*width
				bs = append(bs, bar{x: x, width: width * 0.92, st: st, fill: colors[m]})
				if !math.IsNaN(st.Mean) {
					drawn = true
				}
			}
		}
		p := newPlot(pn.title, "", pn.yLabel)
		p.Add(gridLines{}, bars{bars: bs, decimals: pn.decimals})
		p.X.Tick.Marker = groups
		p.X.Min, p.X.Max = -0.5, float64(len(sets))-0.5
		p.X.Tick.Length = 0
		lo, hi := 0.0, 0.0
		for _, b := range bs {
			lo, hi = math.Min(lo, lowEnd(b.st)), math.Max(hi, highEnd(b.st))
		}
		if pn.percent {
			p.Y.Min, p.Y.Max = math.Min(0, lo*1.1), math.Max(100, hi)*1.08
		} else {
			p.Y.Min, p.Y.Max = math.Min(0, lo*1.1), math.Max(hi*1.15, 1)
		}
		row = append(row, p)
	}
	if !drawn {
		return nil, fmt.Errorf("no selected run stores these values: %w", ErrNoData)
	}
	lg := newLegend()
	for m, name := range methods {
		lg.add(name, swatch{colors[m]})
	}
	tileW := vg.Length(max(230, 90+len(sets)*len(methods)*40))
	return layout{kind: kind, title: title, rows: [][]*plot.Plot{row}, tileW: tileW, tileH: 270, legend: lg}.figure(), nil
}

func metricStat(name string) func(*Config) results.Stat {
	return func(c *Config) results.Stat {
		if st, ok := c.Summary.Metrics[name]; ok {
			return st
		}
		return results.Stat{Mean: math.NaN(), SE: math.NaN()}
	}
}

func drawBars(d *Data) (*Figure, error) {
	return groupedBars(d, Bars, "Final average accuracy and forgetting, mean ± SE over seeds", []panel{
		{title: "ACC: average accuracy after the last task", yLabel: "ACC (%)", value: metricStat(metrics.ACC), percent: true, decimals: 1},
		{title: "forgetting (best earlier minus final)", yLabel: "forgetting (%)", value: metricStat(metrics.Forgetting), percent: true, decimals: 1},
	})
}

// mib scales a byte statistic to MiB.
func mib(st results.Stat) results.Stat {
	return results.Stat{Mean: st.Mean / (1 << 20), SE: st.SE / (1 << 20), N: st.N}
}

func drawMemory(d *Data) (*Figure, error) {
	return groupedBars(d, Memory, "Peak memory per run, mean ± SE over seeds", []panel{
		{title: "peak Go heap", yLabel: "MiB", value: func(c *Config) results.Stat { return mib(c.Summary.PeakHeapBytes) }},
		{title: "peak resident set (RSS)", yLabel: "MiB", value: func(c *Config) results.Stat { return mib(c.Summary.PeakRSSBytes) }},
	})
}
