// Package report writes a self-contained page of stored results: the
// summary table (mean ± standard error over seeds), each configuration's
// mean accuracy matrix, the figures of package figure and each
// configuration's exact settings, program versions and seeds, as one HTML
// file with the figures embedded and as Markdown with the figures beside it.
package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/figure"
	"github.com/noprop/noprop/results/table"
)

// Options says what a report shows and how it names its source.
type Options struct {
	// Metrics are the summary table's metric columns (nil: every stored
	// metric).
	Metrics []string
	// Source names the database in the report, e.g. its path.
	Source string
	// Version is the version of the program writing the report.
	Version string
	// Now is the time the report is written (the zero time: time.Now).
	Now time.Time
}

// A Report is the content of the page, ready to be written.
type Report struct {
	Title, Source, Filter, Version, Generated string
	// Summary is the table of noprop table: one row per configuration.
	Summary Table
	// Configs describe each configuration, in the order of Summary.
	Configs []Config
	// Figures are drawn from the same runs, in the order of figure.Kinds.
	Figures []Figure
	// markdownSummary is Summary as a Markdown table.
	markdownSummary string
}

// Table is a table of text cells; its first TextCols columns hold text,
// the others numbers.
type Table struct {
	Header   []string
	Rows     [][]string
	TextCols int
}

// Config is one configuration's section of the report.
type Config struct {
	// Anchor is the section's HTML id.
	Anchor string
	// Title names the method, stream and scenario.
	Title      string
	ConfigHash string
	Seeds      string
	RunIDs     []string
	// Versions are the program versions (commits) that ran the seeds,
	// Hosts the machines and Kernels the kernels they computed with
	// ("not recorded" for runs stored before runs recorded them).
	Versions, Hosts, Kernels []string
	// Started and Ended span the runs' start and end times.
	Started, Ended string
	// Spec is the stored spec JSON of the first seed's run, indented; the
	// runs differ only in their seed.
	Spec string
	// Matrix is the mean accuracy matrix (± SE) over the seeds.
	Matrix         Table
	markdownMatrix string
}

// Figure is one embedded figure.
type Figure struct {
	Kind    figure.Kind
	Title   string
	Caption string
	// File is the PNG's path relative to the report folder (Markdown).
	File string
	PNG  []byte
	// Missing says why the figure is not drawn (e.g. no training log);
	// PNG is then nil.
	Missing string
}

// DataURI is the PNG as a data: URI, for an <img> that needs no file.
func (f Figure) DataURI() template.URL {
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
}

// Build reads the done runs matching f and draws the report. When none
// matches it returns the store's one-line explanation.
func Build(ctx context.Context, s *results.Store, f results.Filter, opts Options) (*Report, error) {
	data, err := figure.Load(ctx, s, f)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{
		Title:     "Continual-learning results",
		Source:    opts.Source,
		Filter:    f.String(),
		Version:   opts.Version,
		Generated: now.Format("2006-01-02 15:04 MST"),
	}
	if r.Filter == "" {
		r.Filter = "all"
	}
	sums := make([]results.Summary, len(data.Configs))
	for i, c := range data.Configs {
		sums[i] = c.Summary
	}
	tableOpts := table.Options{Metrics: opts.Metrics, Memory: true}
	r.Summary.Header, r.Summary.Rows, r.Summary.TextCols = table.Rows(sums, tableOpts)
	var md bytes.Buffer
	tableOpts.Format = table.Markdown
	if err := table.Write(&md, sums, tableOpts); err != nil {
		return nil, err
	}
	r.markdownSummary = md.String()
	for i := range data.Configs {
		c, err := configSection(&data.Configs[i], i)
		if err != nil {
			return nil, err
		}
		r.Configs = append(r.Configs, c)
	}
	for _, k := range figure.Kinds() {
		fig := Figure{Kind: k, Caption: figure.Describe(k), File: figureFile(k)}
		drawn, err := figure.Draw(k, data)
		switch {
		case errors.Is(err, figure.ErrNoData):
			fig.Title, fig.Missing = string(k), err.Error()
		case err != nil:
			return nil, err
		default:
			fig.Title = drawn.Title
			if fig.PNG, err = drawn.PNG(); err != nil {
				return nil, err
			}
		}
		r.Figures = append(r.Figures, fig)
	}
	return r, nil
}

func configSection(c *figure.Config, i int) (Config, error) {
	sum := c.Summary
	sec := Config{
		Anchor:     fmt.Sprintf("config-%d", i+1),
		Title:      fmt.Sprintf("%s on %s", c.Method(), c.Setting()),
		ConfigHash: sum.ConfigHash,
		RunIDs:     sum.RunIDs,
	}
	seeds := make([]string, len(sum.Seeds))
	for i, s := range sum.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	sec.Seeds = strings.Join(seeds, ", ")
	versions, hosts, kernels := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var first, last time.Time
	for _, r := range c.Runs {
		versions[r.ProgramVersion], hosts[r.Host] = true, true
		k := r.Kernels
		if k == "" {
			k = "not recorded"
		}
		kernels[k] = true
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		if r.Ended.After(last) {
			last = r.Ended
		}
	}
	sec.Versions, sec.Hosts, sec.Kernels = sortedKeys(versions), sortedKeys(hosts), sortedKeys(kernels)
	sec.Started, sec.Ended = first.Local().Format("2006-01-02 15:04"), last.Local().Format("2006-01-02 15:04")
	var spec bytes.Buffer
	if err := json.Indent(&spec, []byte(c.Runs[0].SpecJSON), "", "  "); err != nil {
		return sec, fmt.Errorf("run %s: spec: %w", c.Runs[0].ID, err)
	}
	sec.Spec = spec.String()
	var err error
	sec.Matrix.Header, sec.Matrix.Rows, err = table.MatrixRows(c.Mean, c.SE)
	if err != nil {
		return sec, fmt.Errorf("config %s: %w", sum.ConfigHash, err)
	}
	sec.Matrix.TextCols = 1
	var md bytes.Buffer
	if err := table.WriteMatrix(&md, table.Markdown, "", c.Mean, c.SE); err != nil {
		return sec, err
	}
	sec.markdownMatrix = md.String()
	return sec, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k == "" {
			k = "(unknown)"
		}
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

//go:embed index.html.tmpl
var pageText string

var page = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"numeric": func(t Table, col int) bool { return col >= t.TextCols },
}).Parse(pageText))

// WriteHTML writes the report as one HTML page with the figures embedded
// as data: URIs, so the file needs nothing beside it.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("write report page: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report as Markdown; the figures are linked as
// the PNG files named by Figure.File, which Write puts beside it. Every
// stored string (a method, host or version name, a path, a spec) is
// escaped for where it stands, so none can add HTML or break the page.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdText(r.Title))
	fmt.Fprintf(&b, "- database: %s\n- runs: %s (finished runs only)\n- written %s by noprop %s\n\n",
		mdCode(r.Source), mdText(r.Filter), mdText(r.Generated), mdText(r.Version))
	b.WriteString("## Summary\n\nMean ± standard error over seeds, in percent; peak memory in MiB.\n\n")
	b.WriteString(r.markdownSummary)
	b.WriteString("\n## Figures\n\n")
	for _, f := range r.Figures {
		if f.PNG == nil {
			fmt.Fprintf(&b, "- %s: not drawn (%s)\n\n", mdText(string(f.Kind)), mdText(f.Missing))
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n![%s](%s)\n\n%s.\n\n", mdText(f.Title), mdText(f.Title), f.File, mdText(capitalize(f.Caption)))
	}
	b.WriteString("## Configurations\n")
	for _, c := range r.Configs {
		fmt.Fprintf(&b, "\n### %s\n\n", mdText(c.Title))
		ids := make([]string, len(c.RunIDs))
		for i, id := range c.RunIDs {
			ids[i] = mdCode(id)
		}
		fmt.Fprintf(&b, "- config hash: %s\n- seeds: %s\n- program version: %s\n- host: %s\n- kernels: %s\n- runs: %s to %s\n- run IDs: %s\n\n",
			mdCode(c.ConfigHash), mdText(c.Seeds), mdText(strings.Join(c.Versions, ", ")), mdText(strings.Join(c.Hosts, ", ")),
			mdText(strings.Join(c.Kernels, "; ")), mdText(c.Started), mdText(c.Ended), strings.Join(ids, ", "))
		b.WriteString("Accuracy (%) on each task (columns) after each task (rows), mean ± SE over seeds:\n\n")
		b.WriteString(c.markdownMatrix)
		fence := fenceFor(c.Spec)
		b.WriteString("\nSettings (the stored spec of the first seed; the seeds differ only in `seed`):\n\n" + fence + "json\n")
		b.WriteString(c.Spec)
		b.WriteString("\n" + fence + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write markdown report: %w", err)
	}
	return nil
}

// mdSpecial is every character that can start markup inside a line of
// Markdown text (emphasis, code, links, table cells, HTML and entities).
var mdSpecial = regexp.MustCompile("[\\\\`*_\\[\\]|<>&]")

// mdText is s as literal Markdown text on one line: control characters
// and line breaks become spaces, and every special character is
// backslash-escaped (Markdown's escape, which also keeps < and & from
// starting HTML).
func mdText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return mdSpecial.ReplaceAllString(s, "\\$0")
}

// mdCode is s as a Markdown code span, on one line, fenced by more
// backticks than any run of them in s.
func mdCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	return fence + " " + s + " " + fence
}

// fenceFor is a code-block fence longer than any run of backticks in s.
func fenceFor(s string) string {
	return strings.Repeat("`", max(3, longestRun(s, '`')+1))
}

func longestRun(s string, c rune) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == c {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// The files Write puts in the report folder beside figures/: the HTML page
// and the Markdown version of it (its figures linked, not embedded).
const (
	PageFile     = "index.html"
	MarkdownFile = "report" + ".md"
)

// Write writes the report into dir: PageFile, MarkdownFile and the
// figures' PNG files that the Markdown links to, each by the rule of package
// outfile (a file is replaced whole, a FIFO or device is written in place,
// a symbolic link's target is written). dir and its missing parents are
// created; a symbolic link to a folder is followed. A figure an earlier
// report wrote and this one does not have (figures/KIND.png of a kind not
// drawn now) is removed; nothing else in dir is touched. Write returns the
// paths written.
func (r *Report) Write(dir string) ([]string, error) {
	target, err := outfile.Target(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(target); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("write report %s: it is not a folder; name a folder for %s, %s and figures/", dir, PageFile, MarkdownFile)
	}
	if err := os.MkdirAll(filepath.Join(target, "figures"), 0o755); err != nil {
		return nil, fmt.Errorf("write report %s: %w", dir, err)
	}
	var written []string
	write := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		if err := outfile.Write(path, 0o644, func(w io.Writer) error {
			_, err := w.Write(data)
			return err
		}); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		written = append(written, path)
		return nil
	}
	var page, md bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		return nil, err
	}
	if err := r.WriteMarkdown(&md); err != nil {
		return nil, err
	}
	drawn := map[string]bool{}
	for _, f := range r.Figures {
		if f.PNG != nil {
			if err := write(f.File, f.PNG); err != nil {
				return nil, err
			}
			drawn[f.File] = true
		}
	}
	if err := removeStale(dir, drawn); err != nil {
		return nil, err
	}
	if err := write(MarkdownFile, md.Bytes()); err != nil {
		return nil, err
	}
	if err := write(PageFile, page.Bytes()); err != nil {
		return nil, err
	}
	return written, nil
}

// figureFile is the file, relative to the report folder, of a kind's
// figure: the only names in figures/ a report owns.
func figureFile(k figure.Kind) string { return "figures/" + string(k) + ".png" }

// removeStale removes the figures an earlier report wrote into dir that
// this one does not have: figures/KIND.png of every kind not in drawn,
// when it is a regular file. Anything else (another name, a link, a FIFO)
// is not the report's and stays.
func removeStale(dir string, drawn map[string]bool) error {
	for _, k := range figure.Kinds() {
		name := figureFile(k)
		if drawn[name] {
			continue
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		st, err := os.Lstat(path)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write report: remove %s, the %s figure of an earlier report that this one does not draw: %w", path, k, err)
		}
	}
	return nil
}
