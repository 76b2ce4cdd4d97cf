// Package table prints the results store's contents as tables in the
// harness's one style (box-drawn on a terminal through tablewriter, or
// Markdown, LaTeX or CSV; see Format): the summary of configurations,
// accuracy matrices, stored runs, and any other command's rows.
package table

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// Options controls WriteTable.
type Options struct {
	// Metrics lists the metric columns in order. When empty, every metric
	// present in the summaries is shown: acc, forgetting, bwt, fwt,
	// forgetting_first_last first, then the others by name.
	Metrics []string
	// Memory adds the peak heap and peak RSS columns, in MiB.
	Memory bool
	// ConfigHash adds a column with the first 12 characters of the config
	// hash. The column is added anyway when two summaries share method,
	// stream and scenario, since their rows could not be told apart; it
	// then also names the settings in which the method's configurations
	// differ, with this one's values ("lr=0.0001").
	ConfigHash bool
	// Format is how the table is printed; "" is Text.
	Format Format
	// Selected, when not nil, adds a column saying why each row's
	// configuration was chosen (results.SelectBy), by config hash.
	Selected map[string]string
	// Progress, when not empty, adds a column with how far each run that
	// has a checkpoint had got when it saved it, by run ID.
	Progress map[string]string
}

// FormatStat formats a results.Stat in percent units with 2 decimals: "97.31 ±
// 0.12", "97.31" when the standard error is undefined (one seed), "n/a" when
// no run defines the value. When fewer runs define the value than were
// aggregated (n), " (n=k)" is appended.
func FormatStat(st results.Stat, n int) string {
	return formatStat(st, n, 1, 2)
}

func formatStat(st results.Stat, n int, scale float64, decimals int) string {
	if st.N == 0 || !finite(st.Mean) {
		return "n/a"
	}
	s := fmt.Sprintf("%.*f", decimals, st.Mean/scale)
	if finite(st.SE) {
		s += fmt.Sprintf(" ± %.*f", decimals, st.SE/scale)
	}
	if st.N < n {
		s += fmt.Sprintf(" (n=%d)", st.N)
	}
	return s
}

// metricColumns returns the metric names to show for sums.
func metricColumns(sums []results.Summary, opts Options) []string {
	if len(opts.Metrics) > 0 {
		return opts.Metrics
	}
	present := map[string]bool{}
	for _, s := range sums {
		for name := range s.Metrics {
			present[name] = true
		}
	}
	var cols []string
	for _, name := range metrics.Order {
		if present[name] {
			cols = append(cols, name)
			delete(present, name)
		}
	}
	var rest []string
	for name := range present {
		rest = append(rest, name)
	}
	sort.Strings(rest)
	return append(cols, rest...)
}

// TableRows returns the header and rows WriteTable prints, and how many
// leading columns hold text (the others hold numbers): one row per summary,
// sorted by stream, scenario and method.
func Rows(sums []results.Summary, opts Options) (header []string, rows [][]string, textCols int) {
	sorted := append([]results.Summary(nil), sums...)
	results.SortSummaries(sorted)
	showHash := opts.ConfigHash
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.Method == b.Method && a.Stream == b.Stream && a.Scenario == b.Scenario {
			showHash = true
		}
	}
	metricCols := metricColumns(sorted, opts)

	header = []string{"method", "stream", "scenario"}
	strategies := false
	for _, s := range sorted {
		strategies = strategies || Strategy(s.SpecJSON) != ""
	}
	if strategies {
		header = append(header, "strategy")
	}
	if opts.Selected != nil {
		header = append(header, "selected by")
	}
	if showHash {
		header = append(header, "config")
	}
	textCols = len(header)
	header = append(header, "seeds")
	for _, name := range metricCols {
		header = append(header, metrics.Title(name))
	}
	if opts.Memory {
		header = append(header, "peak heap MiB", "peak RSS MiB")
	}

	differs := results.SettingsThatDiffer(sorted)
	for _, s := range sorted {
		row := []string{MethodName(s.Method, s.SpecJSON), s.Stream, s.Scenario}
		if strategies {
			row = append(row, StrategyLabel(s.SpecJSON))
		}
		if opts.Selected != nil {
			row = append(row, opts.Selected[s.ConfigHash])
		}
		if showHash {
			h := s.ConfigHash
			if len(h) > 12 {
				h = h[:12]
			}
			if d := differs[s.ConfigHash]; d != "" {
				h += " " + d
			}
			row = append(row, h)
		}
		row = append(row, fmt.Sprint(s.N))
		for _, name := range metricCols {
			st, ok := s.Metrics[name]
			if !ok {
				st = results.Stat{Mean: math.NaN(), SE: math.NaN()}
			}
			row = append(row, FormatStat(st, s.N))
		}
		if opts.Memory {
			row = append(row,
				formatStat(s.PeakHeapBytes, s.N, 1<<20, 1),
				formatStat(s.PeakRSSBytes, s.N, 1<<20, 1))
		}
		rows = append(rows, row)
	}
	return header, rows, textCols
}

// WriteTable writes one row per summary, sorted by stream, scenario and
// method: method | stream | scenario | seeds | one column per metric, as
// "mean ± SE" with 2 decimals (see FormatStat), and the peak memory in MiB
// when opts.Memory is set. A metric undefined for every seed shows "n/a".
func Write(w io.Writer, sums []results.Summary, opts Options) error {
	header, rows, textCols := Rows(sums, opts)
	if err := WriteRows(w, opts.Format, textCols, header, rows); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// FormatCell formats one cell of an accuracy matrix in percent with 1
// decimal: "97.3", or "97.3 ± 0.4" when se is finite; "n/a" for a missing
// (NaN) cell.
func FormatCell(mean, se float64) string {
	if !finite(mean) {
		return "n/a"
	}
	if finite(se) {
		return fmt.Sprintf("%.1f ± %.1f", mean, se)
	}
	return fmt.Sprintf("%.1f", mean)
}

// MatrixRows returns the header and rows WriteMatrix prints: rows
// "untrained", "after task 1", ...; columns "", "task 1", ...; cells
// formatted by FormatCell, with standard errors when se is not nil.
func MatrixRows(mean, se [][]float64) (header []string, rows [][]string, err error) {
	if len(mean) == 0 {
		return nil, nil, errors.New("empty matrix")
	}
	cols := len(mean[0])
	for i, row := range mean {
		if len(row) != cols {
			return nil, nil, fmt.Errorf("row %d has %d columns, row 0 has %d", i, len(row), cols)
		}
	}
	if se != nil {
		if len(se) != len(mean) {
			return nil, nil, fmt.Errorf("%d rows of standard errors for %d rows", len(se), len(mean))
		}
		for i, row := range se {
			if len(row) != cols {
				return nil, nil, fmt.Errorf("standard error row %d has %d columns, want %d", i, len(row), cols)
			}
		}
	}
	header = []string{""}
	for j := 1; j <= cols; j++ {
		header = append(header, fmt.Sprintf("task %d", j))
	}
	for i, row := range mean {
		label := "untrained"
		if i > 0 {
			label = fmt.Sprintf("after task %d", i)
		}
		cells := []string{label}
		for j, m := range row {
			e := math.NaN()
			if se != nil {
				e = se[i][j]
			}
			cells = append(cells, FormatCell(m, e))
		}
		rows = append(rows, cells)
	}
	return header, rows, nil
}

// WriteMatrix writes an accuracy matrix as a table under the line title
// (omitted when empty): rows "untrained", "after task 1", ...; columns
// "task 1", ...; cells in percent with 1 decimal, "97.3", or "97.3 ± 0.4"
// when se is given (non-nil) and the cell's standard error is defined.
// Missing (NaN) cells show "n/a". f is the table's format.
func WriteMatrix(w io.Writer, f Format, title string, mean, se [][]float64) error {
	header, rows, err := MatrixRows(mean, se)
	if err != nil {
		return fmt.Errorf("write matrix: %w", err)
	}
	if title != "" {
		if _, err := fmt.Fprintln(w, title); err != nil {
			return fmt.Errorf("write matrix: %w", err)
		}
	}
	if err := WriteRows(w, f, 1, header, rows); err != nil {
		return fmt.Errorf("write matrix: %w", err)
	}
	return nil
}

// RunsOptions controls WriteRuns.
type RunsOptions struct {
	// StaleAfter is the heartbeat age after which an owner counts as gone
	// (see results.Liveness); 0 means results.DefaultStaleAfter.
	StaleAfter time.Duration
	// Now is when ages are measured; zero means time.Now().
	Now time.Time
	// ACC holds each done run's ACC by run ID (absent: not shown).
	ACC map[string]float64
	// Format is how the table is printed; "" is Text.
	Format Format
	// Selected, when not nil, adds a column saying why each row's
	// configuration was chosen (results.SelectBy), by config hash.
	Selected map[string]string
	// Progress, when not empty, adds a column with how far each run that
	// has a checkpoint had got when it saved it, by run ID.
	Progress map[string]string
}

// WriteRuns writes one row per run: its ID (the first 8 digits), method
// (name:preset), stream, scenario, seed, status, rerun generation, start
// (UTC), how long it ran (so far, for a running run), its ACC when done,
// owner (host:pid), and a note: for a running run its heartbeat's age and
// whether its owner looks alive and why (see results.Liveness), for a failed
// or interrupted one its error.
func WriteRuns(w io.Writer, runs []results.Run, opts RunsOptions) error {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	stale := opts.StaleAfter
	if stale <= 0 {
		stale = results.DefaultStaleAfter
	}
	header := []string{"run", "method", "stream", "scenario", "seed", "status", "gen", "started", "took", "ACC", "owner", "note"}
	if len(opts.Progress) > 0 {
		header = append(header, "checkpoint")
	}
	var rows [][]string
	for _, r := range runs {
		row := runRow(r, opts.ACC, stale, now)
		if len(opts.Progress) > 0 {
			row = append(row, opts.Progress[r.ID])
		}
		rows = append(rows, row)
	}
	if err := WriteRows(w, opts.Format, 8, header, rows); err != nil {
		return fmt.Errorf("write runs: %w", err)
	}
	return nil
}

// runRow is one run's row of WriteRuns.
func runRow(r results.Run, acc map[string]float64, stale time.Duration, now time.Time) []string {
	owner := r.Host
	if r.Owner.PID > 0 {
		owner += ":" + strconv.Itoa(r.Owner.PID)
	}
	took := "-"
	switch {
	case !r.Ended.IsZero():
		took = results.RoundAge(r.Ended.Sub(r.Started)).String()
	case r.Status == results.StatusRunning:
		took = results.RoundAge(now.Sub(r.Started)).String() + " so far"
	}
	accText := ""
	if a, ok := acc[r.ID]; ok {
		accText = fmt.Sprintf("%.2f", a)
	}
	note := r.Error
	if r.Status == results.StatusRunning {
		state, why := results.Liveness(r, stale, now)
		note = state.String() + ": " + why
	}
	if len(note) > 80 {
		note = note[:77] + "..."
	}
	id := r.ID
	if len(id) > 8 {
		id = id[:8]
	}
	return []string{id, MethodName(r.Method, r.SpecJSON), r.Stream, r.Scenario, strconv.FormatUint(r.Seed, 10), string(r.Status),
		strconv.Itoa(r.Generation), r.Started.UTC().Format("2006-01-02 15:04:05"), took, accText, owner, note}
}

// MethodName names a run's method as run and the filters spell it:
// name:preset when the spec names a preset.
func MethodName(method, specJSON string) string {
	var spec struct{ Preset string }
	if json.Unmarshal([]byte(specJSON), &spec) == nil && spec.Preset != "" {
		return method + ":" + spec.Preset
	}
	return method
}

// Strategy is a stored spec's strategy: "" for fine-tuning, the default
// (and every run stored before strategies existed), else its name.
func Strategy(specJSON string) string {
	var spec struct{ Strategy string }
	if json.Unmarshal([]byte(specJSON), &spec) != nil {
		return ""
	}
	return spec.Strategy
}

// StrategyLabel is Strategy with fine-tuning named.
func StrategyLabel(specJSON string) string {
	if s := Strategy(specJSON); s != "" {
		return s
	}
	return "finetune"
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
