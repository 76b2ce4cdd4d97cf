package figure

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// accuracyColor maps an accuracy in percent to the heatmap's colour: light
// yellow at 0 through green to dark blue at 100 (ColorBrewer's YlGnBu,
// interpolated); grey for a missing cell.
func accuracyColor(a float64) color.Color {
	if math.IsNaN(a) {
		return color.Gray{Y: 215}
	}
	p, _ := brewer.GetPalette(brewer.TypeSequential, "YlGnBu", 9)
	cs := p.Colors()
	x := math.Max(0, math.Min(1, a/100)) * float64(len(cs)-1)
	i := min(int(x), len(cs)-2)
	f := x - float64(i)
	r0, g0, b0, _ := cs[i].RGBA()
	r1, g1, b1, _ := cs[i+1].RGBA()
	mix := func(a, b uint32) uint8 { return uint8((float64(a)*(1-f) + float64(b)*f) / 257) }
	return color.RGBA{R: mix(r0, r1), G: mix(g0, g1), B: mix(b0, b1), A: 255}
}

// matrixCells draws an accuracy matrix as coloured cells annotated with
// their values: column j at x = j (tasks 1..T), row i at y = i (0 = the
// untrained model), drawn top down.
type matrixCells struct {
	mean [][]float64
	// fontSize of the annotations; 0 leaves cells unannotated.
	fontSize vg.Length
}

func (m matrixCells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return 0.5, float64(len(m.mean[0])) + 0.5, -0.5, float64(len(m.mean)) - 0.5
}

func (m matrixCells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for i, row := range m.mean {
		for j, a := range row {
			x0, x1 := trX(float64(j+1)-0.5), trX(float64(j+1)+0.5)
			y0, y1 := trY(float64(i)-0.5), trY(float64(i)+0.5)
			rect := vg.Rectangle{Min: vg.Point{X: min(x0, x1), Y: min(y0, y1)}, Max: vg.Point{X: max(x0, x1), Y: max(y0, y1)}}
			fill := accuracyColor(a)
			c.SetColor(fill)
			c.Fill(rect.Path())
			c.SetLineStyle(draw.LineStyle{Color: color.White, Width: vg.Points(1)})
			c.Stroke(rect.Path())
			if m.fontSize == 0 {
				continue
			}
			sty := textStyle(m.fontSize)
			if luminance(fill) < 0.45 {
				sty.Color = color.White
			}
			label := "n/a"
			if !math.IsNaN(a) {
				label = fmt.Sprintf("%.1f", a)
			}
			c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, label)
		}
	}
}

// taskTicks labels the positions 1..T with task numbers; row 0, when
// asked, as "untrained".
type taskTicks struct {
	n         int
	untrained bool
}

func (t taskTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	if t.untrained {
		ts = append(ts, plot.Tick{Value: 0, Label: "untrained"})
	}
	for i := 1; i <= t.n; i++ {
		ts = append(ts, plot.Tick{Value: float64(i), Label: fmt.Sprint(i)})
	}
	return ts
}

func drawMatrix(d *Data) (*Figure, error) {
	maxTasks := 0
	var rows [][]*plot.Plot
	for _, set := range d.settings() {
		var row []*plot.Plot
		for _, c := range set {
			T := c.NumTasks()
			maxTasks = max(maxTasks, T)
			p := newPlot(fmt.Sprintf("%s (%s)\n%s", c.Method(), c.Seeds(), c.Setting()),
				"task evaluated", "after training task")
			p.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
			p.X.Tick.Marker = taskTicks{n: T}
			p.Y.Tick.Marker = taskTicks{n: T, untrained: true}
			p.X.Padding, p.Y.Padding = 0, 0
			p.X.Tick.Length, p.Y.Tick.Length = 0, 0
			p.X.LineStyle.Width, p.Y.LineStyle.Width = 0, 0
			p.Add(matrixCells{mean: c.Mean, fontSize: cellFontSize(T)})
			row = append(row, p)
		}
		rows = append(rows, row)
	}
	side := vg.Length(max(190, 80+38*maxTasks))
	lg := newLegend()
	for _, a := range []float64{100, 75, 50, 25, 0} {
		lg.add(fmt.Sprintf("%.0f %%", a), swatch{accuracyColor(a)})
	}
	lg.add("not recorded", swatch{accuracyColor(math.NaN())})
	return layout{
		kind:  Matrix,
		title: "Accuracy matrix (%), mean over seeds",
		rows:  rows, tileW: side, tileH: side + 10, legend: lg,
	}.figure(), nil
}

// cellFontSize is the annotation size for a matrix of T tasks; 0 (no
// annotation) when the cells are too small to hold a number.
func cellFontSize(T int) vg.Length {
	switch {
	case T <= 6:
		return 9
	case T <= 10:
		return 8
	case T <= 20:
		return 6
	}
	return 0
}
