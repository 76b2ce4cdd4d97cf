package figure

import (
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Font sizes of the figures.
const (
	figureTitleSize = 13
	titleSize       = 11
	labelSize       = 10
	tickSize        = 9
	legendSize      = 10
)

// sans is the font of every text: Liberation Sans, shipped with gonum.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

func textStyle(size vg.Length) text.Style {
	return text.Style{Color: color.Black, Font: sans(size), XAlign: draw.XCenter, YAlign: draw.YCenter,
		Handler: plot.DefaultTextHandler}
}

// newPlot returns a plot with the figures' fonts and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = wrapTitle(title, panelTitleChars)
	p.Title.TextStyle.Font = sans(titleSize)
	p.Title.Padding = 4
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Label.TextStyle.Font = sans(labelSize)
		ax.Tick.Label.Font = sans(tickSize)
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.Legend.TextStyle.Font = sans(legendSize)
	return p
}

// panelTitleChars is the most characters a line of a panel's title takes
// (about a 300-point panel's width at the title's size); a longer line is
// broken between words.
const panelTitleChars = 46

// wrapTitle breaks each line of title longer than width characters
// between words; a word longer than width stays whole.
func wrapTitle(title string, width int) string {
	var out []string
	for _, line := range strings.Split(title, "\n") {
		cur := ""
		for _, w := range strings.Fields(line) {
			switch {
			case cur == "":
				cur = w
			case len([]rune(cur))+1+len([]rune(w)) <= width:
				cur += " " + w
			default:
				out = append(out, cur)
				cur = w
			}
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// maxCols is the most panels a row of a figure holds: a longer row goes on
// in the rows below it.
const maxCols = 4

// wrapRows splits the rows longer than maxCols.
func wrapRows(rows [][]*plot.Plot) [][]*plot.Plot {
	var out [][]*plot.Plot
	for _, r := range rows {
		for len(r) > maxCols {
			out = append(out, r[:maxCols])
			r = r[maxCols:]
		}
		out = append(out, r)
	}
	return out
}

// gridLines draws light horizontal lines at the Y ticks, behind the data.
type gridLines struct{}

func (gridLines) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	sty := draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	for _, t := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if t.IsMinor() || t.Value < p.Y.Min || t.Value > p.Y.Max {
			continue
		}
		y := trY(t.Value)
		c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
	}
}

// series returns n distinguishable line colours: ColorBrewer's Set1 (its
// yellow, unreadable on white, replaced by teal: Set1 has a brown already)
// up to 9, evenly spaced darker hues beyond.
func series(n int) []color.Color {
	if n <= 9 {
		p, _ := brewer.GetPalette(brewer.TypeQualitative, "Set1", 9)
		cs := append([]color.Color(nil), p.Colors()[:n]...)
		if n >= 6 {
			cs[5] = color.RGBA{R: 0x1b, G: 0x9e, B: 0x77, A: 0xff}
		}
		return cs
	}
	return ramp(n)
}

// ramp returns n colours of evenly spaced hues from blue to red, dark
// enough to read on white: for ordered series such as NoProp's blocks.
func ramp(n int) []color.Color {
	out := make([]color.Color, n)
	for i := range out {
		h := 0.72 * (1 - float64(i)/float64(max(n-1, 1)))
		out[i] = hsv(h, 0.85, 0.72)
	}
	return out
}

// hsv converts a hue in [0, 1), saturation and value to a colour.
func hsv(h, s, v float64) color.Color {
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, t := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	var r, g, b float64
	switch int(i) % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{R: uint8(255 * r), G: uint8(255 * g), B: uint8(255 * b), A: 255}
}

// translucent returns c with alpha a (0..1), premultiplied.
func translucent(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.RGBA{R: uint8(float64(r>>8) * a), G: uint8(float64(g>>8) * a), B: uint8(float64(b>>8) * a), A: uint8(255 * a)}
}

// luminance is the relative luminance of c in [0, 1].
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}

// A legend is a plot.Legend that remembers its entries' names, to size
// the room it needs.
type legend struct {
	plot.Legend
	names []string
}

// newLegend returns an empty legend in the figures' style.
func newLegend() *legend {
	l := &legend{Legend: plot.NewLegend()}
	l.TextStyle.Font = sans(legendSize)
	l.ThumbnailWidth = 22
	l.Padding = 3
	l.Top, l.Left = true, true
	return l
}

func (l *legend) add(name string, thumbs ...plot.Thumbnailer) {
	l.Add(name, thumbs...)
	l.names = append(l.names, name)
}

// width is the room the legend needs, margins included.
func (l *legend) width() vg.Length {
	if l == nil || len(l.names) == 0 {
		return 0
	}
	var w vg.Length
	for _, n := range l.names {
		w = max(w, l.TextStyle.Width(n))
	}
	return w + l.ThumbnailWidth + l.TextStyle.Width(" ") + 2*legendMargin
}

// height is the room the legend's entries take.
func (l *legend) height() vg.Length {
	if l == nil {
		return 0
	}
	return vg.Length(len(l.names)) * (l.TextStyle.Height("Mg") + l.Padding)
}

// swatch is a legend thumbnail filled with one colour.
type swatch struct{ color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	c.SetColor(s.Color)
	c.Fill(c.Rectangle.Path())
	c.SetLineStyle(draw.LineStyle{Color: color.Gray{Y: 120}, Width: vg.Points(0.5)})
	c.Stroke(c.Rectangle.Path())
}

// A layout is a figure of tiled plots: a title on top, rows of plots of one
// size (nil leaves a tile empty) and a shared legend to their right.
type layout struct {
	kind         Kind
	title        string
	rows         [][]*plot.Plot
	tileW, tileH vg.Length
	legend       *legend
}

const (
	margin       = vg.Length(10)
	titleBand    = vg.Length(26)
	tileGap      = vg.Length(14)
	legendMargin = vg.Length(12)
)

// legendBelowShare is the share of the panels' width a legend may take
// beside them; a wider one goes below them.
const legendBelowShare = 0.3

// geometry is where a layout puts its parts.
type geometry struct {
	cols           int
	w, h           vg.Length
	tilesW, tilesH vg.Length
	legendW        vg.Length // the legend's column to the right; 0 when below or none
	legendH        vg.Length // the legend's band below the panels; 0 when beside or none
	titleW         vg.Length
}

func (l layout) geometry() geometry {
	g := geometry{}
	for _, r := range l.rows {
		g.cols = max(g.cols, len(r))
	}
	g.tilesW = vg.Length(g.cols)*l.tileW + vg.Length(g.cols-1)*tileGap
	g.tilesH = vg.Length(len(l.rows))*l.tileH + vg.Length(len(l.rows)-1)*tileGap
	lw := l.legend.width()
	if lw > legendBelowShare*g.tilesW {
		g.legendH = l.legend.height() + 2*legendMargin
	} else {
		g.legendW = lw
	}
	g.titleW = textStyle(figureTitleSize).Width(l.title)
	g.w = max(2*margin+g.tilesW+g.legendW, 2*margin+g.titleW)
	if g.legendH > 0 {
		g.w = max(g.w, 2*margin+lw)
	}
	g.h = 2*margin + titleBand + g.tilesH + g.legendH
	if g.legendW > 0 {
		g.h = max(g.h, 2*margin+titleBand+l.legend.height())
	}
	return g
}

// fits reports whether the title fits the figure's width, for tests.
func (g geometry) fits() bool { return g.titleW <= g.w-2*margin }

func (l layout) figure() *Figure {
	l.rows = wrapRows(l.rows)
	g := l.geometry()
	for i, r := range l.rows {
		for len(r) < g.cols {
			r = append(r, nil)
		}
		l.rows[i] = r
	}
	return &Figure{Kind: l.kind, Title: l.title, Width: g.w, Height: g.h, titleFits: g.fits(), draw: func(c draw.Canvas) {
		sty := textStyle(figureTitleSize)
		c.FillText(sty, vg.Point{X: (c.Min.X + c.Max.X) / 2, Y: c.Max.Y - margin - titleBand/2}, l.title)
		// The panels are centred in the width they leave.
		side := (g.w - 2*margin - g.tilesW - g.legendW) / 2
		area := draw.Crop(c, margin+side, -margin-g.legendW-side, margin+g.legendH, -margin-titleBand)
		tiles := draw.Tiles{Rows: len(l.rows), Cols: g.cols, PadX: tileGap, PadY: tileGap}
		canvases := plot.Align(l.rows, tiles, area)
		for i, r := range l.rows {
			for j, p := range r {
				if p != nil {
					p.Draw(canvases[i][j])
				}
			}
		}
		switch {
		case g.legendW > 0:
			l.legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-g.legendW+legendMargin, -margin, margin, -margin-titleBand))
		case g.legendH > 0:
			l.legend.Draw(draw.Crop(c, margin+legendMargin, -margin, margin, -(g.h - margin - g.legendH + legendMargin)))
		}
	}}
}
