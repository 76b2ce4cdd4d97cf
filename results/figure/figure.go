// Package figure draws the stored results of continual-learning runs with
// gonum's plot package: accuracy-matrix heatmaps, per-task accuracy curves,
// the average accuracy over the tasks learned, ACC and forgetting bars,
// training-loss curves and peak memory, as PNG, SVG or PDF.
//
// Every figure is drawn from what a results database holds (Load reads it);
// values over seeds are means with standard-error bars or bands, as in the
// tables of package results.
package figure

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/noprop/noprop/internal/outfile"
)

// ErrNoData is returned (wrapped) when the selected runs hold nothing a
// figure could show, e.g. no training log or no memory measurement.
var ErrNoData = errors.New("nothing to draw")

// Kind names a figure.
type Kind string

// The figures Draw knows.
const (
	Matrix  Kind = "matrix"  // accuracy-matrix heatmap per configuration
	Curves  Kind = "curves"  // each task's accuracy after each task
	Average Kind = "average" // average accuracy on the tasks learned, configurations together
	Bars    Kind = "bars"    // ACC and forgetting per method and scenario
	Loss    Kind = "loss"    // training loss per epoch (per block for NoProp)
	Test    Kind = "test"    // learning curve: test accuracy during training
	Val     Kind = "val"     // learning curve on the validation set
	Probe   Kind = "probe"   // each stage's accuracy on earlier tasks, after each task
	Memory  Kind = "memory"  // peak heap and RSS per configuration
	Terms   Kind = "terms"   // the named terms of the loss per epoch
	Compare Kind = "compare" // learning curves of every configuration on one axis
)

// kinds lists every Kind with what it shows, in the order of Kinds.
var kinds = []struct {
	kind Kind
	what string
	draw func(*Data) (*Figure, error)
}{
	{Matrix, "accuracy matrix heatmap per configuration (mean over seeds; rows: untrained, after each task; columns: tasks)", drawMatrix},
	{Curves, "accuracy on each task after each task learned, ± SE band over seeds, with the average over tasks learned", drawCurves},
	{Average, "accuracy averaged over the tasks learned so far, after each task: every configuration on one axis per stream and scenario, the bounds (joint, cumulative) dashed, ± SE band over seeds", drawAverage},
	{Bars, "ACC and forgetting per method and scenario, ± SE error bars", drawBars},
	{Loss, "training loss per epoch, one line per trained part (NoProp's blocks), mean over seeds", drawLoss},
	{Test, "learning curve: test accuracy of the task being learned during training (runs made with --test-every), mean over seeds", drawTest},
	{Val, "learning curve on the validation set: accuracy of the task being learned on its validation set during training (runs made with --test-every --curve-on val), mean over seeds", drawVal},
	{Probe, "where forgetting happens: each stage of the model (NoProp-DT's blocks as denoisers and along the chain, its head; backprop-dt's blocks) scored on the tasks learned before, after each task (runs made with --probe), mean over seeds", drawProbe},
	{Memory, "peak Go heap and peak RSS per configuration, ± SE error bars", drawMemory},
	{Terms, "what each rule's loss is made of per epoch (NoProp: the weighted L2, CE and KL terms, the learned schedule's end points and SNRs), a panel per term, a line per configuration, mean over seeds", drawTerms},
	{Compare, "learning curves (runs made with --test-every) of every configuration on one axis, a panel per stream and scenario, mean over seeds, with published curves to hold them against (--reference) dashed", drawCompare},
}

// Kinds returns the figure kinds in their usual order.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

// Describe returns one line saying what a kind of figure shows; "" for an
// unknown kind.
func Describe(k Kind) string {
	for _, e := range kinds {
		if e.kind == k {
			return e.what
		}
	}
	return ""
}

// ParseKind checks a kind's name.
func ParseKind(s string) (Kind, error) {
	for _, e := range kinds {
		if string(e.kind) == s {
			return e.kind, nil
		}
	}
	names := make([]string, len(kinds))
	for i, e := range kinds {
		names[i] = string(e.kind)
	}
	return "", fmt.Errorf("figure %q: want one of %s", s, strings.Join(names, ", "))
}

// Draw draws one kind of figure of the configurations in d.
func Draw(k Kind, d *Data) (*Figure, error) {
	for _, e := range kinds {
		if e.kind == k {
			if len(d.Configs) == 0 {
				return nil, fmt.Errorf("%s figure: no configurations: %w", k, ErrNoData)
			}
			f, err := e.draw(d)
			if err != nil {
				return nil, fmt.Errorf("%s figure: %w", k, err)
			}
			return f, nil
		}
	}
	_, err := ParseKind(string(k))
	return nil, err
}

// A Figure is a drawing that can be written as PNG, SVG or PDF.
type Figure struct {
	// Kind is what the figure shows; Title its caption.
	Kind  Kind
	Title string
	// Width and Height are the figure's size.
	Width, Height vg.Length
	draw          func(c draw.Canvas)
	// titleFits records the layout's check that the title fits its width.
	titleFits bool
}

// PNGDPI is the resolution of PNG figures.
const PNGDPI = 150

// Formats are the file formats Encode writes, named as file extensions.
var Formats = []string{"png", "svg", "pdf"}

// FormatOf returns the format of a file name from its extension, and an
// error naming the formats when the extension is not one of them.
func FormatOf(path string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	for _, f := range Formats {
		if ext == f {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: unknown figure format %q; name the file .png, .svg or .pdf", path, ext)
}

// Encode writes the figure to w in format (png, svg or pdf).
func (f *Figure) Encode(w io.Writer, format string) error {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		img := vgimg.NewWith(vgimg.UseWH(f.Width, f.Height), vgimg.UseDPI(PNGDPI),
			vgimg.UseBackgroundColor(color.White))
		c = vgimg.PngCanvas{Canvas: img}
	case "svg":
		c = vgsvg.New(f.Width, f.Height)
	case "pdf":
		c = vgpdf.New(f.Width, f.Height)
	default:
		return fmt.Errorf("encode %s figure: format %q: want png, svg or pdf", f.Kind, format)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc)
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("encode %s figure as %s: %w", f.Kind, format, err)
	}
	return nil
}

// PNG returns the figure as PNG bytes.
func (f *Figure) PNG() ([]byte, error) {
	var b bytes.Buffer
	if err := f.Encode(&b, "png"); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Save writes the figure to path in the format its extension names, by
// the rule of package outfile: a file through a temporary file renamed
// into place, so a failed write leaves no half-written figure; a FIFO or
// device in place; a symbolic link's target; missing folders created.
func (f *Figure) Save(path string) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := f.Encode(&b, format); err != nil {
		return err
	}
	return outfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(b.Bytes())
		return err
	})
}
