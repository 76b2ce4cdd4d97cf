package table

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// VersusRows returns the header and rows of a comparison with one method,
// ref (a name, which matches every preset, or name:preset): each summary
// of another method beside ref's summary of the same stream, scenario and
// strategy, one column per metric (opts.Metrics, or every metric present)
// holding the difference of the means, this row's minus ref's, ± its
// standard error, with the two-sided p-value of Welch's t-test
// (results.Welch). textCols counts the leading text columns. A summary
// with no counterpart of ref is left out. It is an error when ref has no
// summary, when a stream, scenario and strategy hold several of ref's
// configurations (a grid: keep one with --select-by), or when nothing
// remains to compare.
func VersusRows(sums []results.Summary, ref string, opts Options) (header []string, rows [][]string, textCols int, err error) {
	sorted := append([]results.Summary(nil), sums...)
	results.SortSummaries(sorted)
	isRef := func(s results.Summary) bool {
		return MethodName(s.Method, s.SpecJSON) == ref || !strings.Contains(ref, ":") && s.Method == ref
	}
	group := func(s results.Summary) string {
		return s.Stream + ", " + s.Scenario + "-IL, " + StrategyLabel(s.SpecJSON)
	}
	refs := map[string]results.Summary{}
	names := map[string]bool{}
	for _, s := range sorted {
		names[MethodName(s.Method, s.SpecJSON)] = true
		if !isRef(s) {
			continue
		}
		if _, dup := refs[group(s)]; dup {
			return nil, nil, 0, fmt.Errorf("--versus %s: several configurations of %s on %s; keep one per grid with --select-by val-acc, or narrow the filters", ref, ref, group(s))
		}
		refs[group(s)] = s
	}
	if len(refs) == 0 {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		return nil, nil, 0, fmt.Errorf("--versus %s: no configuration of %s among the selected runs; their methods: %s", ref, ref, strings.Join(list, ", "))
	}
	metricCols := metricColumns(sorted, opts)
	header = []string{"method", "stream", "scenario", "strategy", "versus"}
	showHash := false
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		showHash = showHash || !isRef(a) && a.Method == b.Method && group(a) == group(b)
	}
	if showHash {
		header = append(header, "config")
	}
	textCols = len(header)
	header = append(header, "seeds")
	for _, name := range metricCols {
		header = append(header, metrics.Title(name)+" difference")
	}
	differs := results.SettingsThatDiffer(sorted)
	for _, s := range sorted {
		r, ok := refs[group(s)]
		if isRef(s) || !ok {
			continue
		}
		row := []string{MethodName(s.Method, s.SpecJSON), s.Stream, s.Scenario, StrategyLabel(s.SpecJSON), MethodName(r.Method, r.SpecJSON)}
		if showHash {
			row = append(row, strings.TrimSpace(s.ConfigHash[:min(12, len(s.ConfigHash))]+" "+differs[s.ConfigHash]))
		}
		row = append(row, fmt.Sprintf("%d vs %d", s.N, r.N))
		for _, name := range metricCols {
			row = append(row, FormatDifference(results.Welch(s.Metrics[name], r.Metrics[name])))
		}
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil, nil, 0, fmt.Errorf("--versus %s: no other method's configuration shares a stream, scenario and strategy with %s", ref, ref)
	}
	return header, rows, textCols, nil
}

// WriteVersus writes VersusRows in opts.Format.
func WriteVersus(w io.Writer, sums []results.Summary, ref string, opts Options) error {
	header, rows, textCols, err := VersusRows(sums, ref, opts)
	if err != nil {
		return err
	}
	if err := WriteRows(w, opts.Format, textCols, header, rows); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// FormatDifference formats a difference of means in percentage points with
// 2 decimals and its sign, ± its standard error and Welch's p-value:
// "+1.23 ± 0.45 (p 0.012)", "(p < 0.001)" below that; without the standard
// error when one side has a single seed, "n/a" when either mean is
// undefined.
func FormatDifference(d results.Difference) string {
	if !finite(d.Delta) {
		return "n/a"
	}
	s := fmt.Sprintf("%+.2f", d.Delta)
	if !finite(d.SE) {
		return s
	}
	s += fmt.Sprintf(" ± %.2f", d.SE)
	switch {
	case math.IsNaN(d.P):
	case d.P < 0.001:
		s += " (p < 0.001)"
	default:
		s += fmt.Sprintf(" (p %.3f)", d.P)
	}
	return s
}
