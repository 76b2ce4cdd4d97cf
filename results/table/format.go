package table

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format is how a table is printed.
type Format string

// The formats every command that prints a table takes (--format).
const (
	Text     Format = "text"     // box-drawn, for a terminal
	Markdown Format = "markdown" // a pipe table
	LaTeX    Format = "latex"    // a tabular environment, for a paper
	CSV      Format = "csv"      // comma-separated, a header line first
)

// Formats lists the formats in their usual order.
var Formats = []Format{Text, Markdown, LaTeX, CSV}

// ParseFormat checks a format's name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("--format %q: want text, markdown, latex or csv", s)
}

// FormatUsage documents the --format flag.
const FormatUsage = "how to print the table: text (box-drawn), markdown, latex or csv"

// textWidth is the widest a text column grows before its cells wrap.
const textWidth = 64

// WriteRows writes one table in format f: the first textCols columns are
// text (left-aligned), the others numbers (right-aligned). Every cell is
// made one line without control characters first, so a stored string
// cannot move a terminal's cursor or break a Markdown or LaTeX table.
func WriteRows(w io.Writer, f Format, textCols int, header []string, rows [][]string) error {
	header = cleanRow(header, f)
	clean := make([][]string, len(rows))
	for i, r := range rows {
		clean[i] = cleanRow(r, f)
	}
	switch f {
	case CSV:
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(clean)
		return cw.Error()
	case LaTeX:
		return writeLaTeX(w, textCols, header, clean)
	case Text, Markdown, "":
		t := newTable(w, f, textCols, len(header))
		h := make([]any, len(header))
		for i, c := range header {
			h[i] = c
		}
		t.Header(h...)
		for _, row := range clean {
			if err := t.Append(row); err != nil {
				return err
			}
		}
		return t.Render()
	}
	_, err := ParseFormat(string(f))
	return err
}

// newTable returns a tablewriter table in format f (text or markdown) with
// headers kept as given, the first textCols columns aligned left and the
// others (numbers) right, and long text wrapped.
func newTable(w io.Writer, f Format, textCols, cols int) *tablewriter.Table {
	align := make([]tw.Align, cols)
	for i := range align {
		align[i] = tw.AlignRight
		if i < textCols {
			align[i] = tw.AlignLeft
		}
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{Global: tw.AlignLeft, PerColumn: align}),
	}
	if f == Markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	} else {
		opts = append(opts, tablewriter.WithRowMaxWidth(textWidth), tablewriter.WithRowAutoWrap(tw.WrapNormal))
	}
	return tablewriter.NewTable(w, opts...)
}

// writeLaTeX writes a tabular environment with a rule under the header.
func writeLaTeX(w io.Writer, textCols int, header []string, rows [][]string) error {
	var b strings.Builder
	spec := strings.Repeat("l", min(textCols, len(header))) + strings.Repeat("r", max(len(header)-textCols, 0))
	fmt.Fprintf(&b, "\\begin{tabular}{%s}\n\\hline\n", spec)
	line := func(cells []string) {
		esc := make([]string, len(cells))
		for i, c := range cells {
			esc[i] = latexEscape(c)
		}
		fmt.Fprintf(&b, "%s \\\\\n", strings.Join(esc, " & "))
	}
	line(header)
	b.WriteString("\\hline\n")
	for _, r := range rows {
		line(r)
	}
	b.WriteString("\\hline\n\\end{tabular}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

var latexReplacer = strings.NewReplacer(
	`\`, `\textbackslash{}`, `&`, `\&`, `%`, `\%`, `$`, `\$`, `#`, `\#`, `_`, `\_`,
	`{`, `\{`, `}`, `\}`, `~`, `\textasciitilde{}`, `^`, `\textasciicircum{}`, "±", `$\pm$`)

func latexEscape(s string) string { return latexReplacer.Replace(s) }

func cleanRow(r []string, f Format) []string {
	out := make([]string, len(r))
	for i, c := range r {
		out[i] = oneLine(c)
		if f == Markdown {
			out[i] = markdownCell.Replace(out[i])
		}
	}
	return out
}

// markdownCell escapes what would end a Markdown table cell or start
// markup or HTML inside it.
var markdownCell = strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", `\<`, ">", `\>`, "&", `\&`, "`", "\\`", "*", `\*`, "[", `\[`, "]", `\]`)

// oneLine makes a stored string safe and short for a terminal: control
// characters (an ANSI escape sequence's ESC among them) become blanks and
// runs of blanks one, so a stored name cannot move the cursor or recolour
// the screen.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)), " ")
}
