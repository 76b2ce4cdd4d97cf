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

// A Versus is the configuration a --versus table compares every other
// one with: a method name (which matches every preset) or name:preset,
// and optionally conditions on its settings.
type Versus struct {
	Method   string
	Settings []results.SettingMatch
}

// ParseVersus reads a --versus value: METHOD or METHOD:PRESET, then
// optionally KEY=VALUE pairs, all comma-separated, e.g.
// "noprop-dt,embedding=one-hot,train_order=sequential" (the pairs read as
// --setting reads them: results.ParseSettingMatches).
func ParseVersus(ref string) (Versus, error) {
	method, pairs, _ := strings.Cut(ref, ",")
	method = strings.TrimSpace(method)
	if method == "" || strings.Contains(method, "=") {
		return Versus{}, fmt.Errorf("--versus %q: want a method first (name or name:preset), then any KEY=VALUE settings, comma-separated", ref)
	}
	matches, err := results.ParseSettingMatches(pairs)
	if err != nil {
		return Versus{}, fmt.Errorf("--versus %s: %w", ref, err)
	}
	return Versus{Method: method, Settings: matches}, nil
}

// String returns v as tables label it: the method, then its settings.
func (v Versus) String() string {
	parts := []string{v.Method}
	for _, m := range v.Settings {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, " ")
}

// matches reports whether s is a summary of v's configuration.
func (v Versus) matches(s results.Summary) bool {
	return (MethodName(s.Method, s.SpecJSON) == v.Method || !strings.Contains(v.Method, ":") && s.Method == v.Method) &&
		results.SettingsMatch(s.SpecJSON, v.Settings)
}

// VersusRows returns the header and rows of a comparison with one
// configuration, ref (ParseVersus): each summary of another configuration
// beside ref's summary of the same stream, scenario and strategy, one
// column per metric (opts.Metrics, or every metric present) holding the
// difference of the means, this row's minus ref's, ± its standard error,
// with the two-sided p-value of Welch's t-test (results.Welch). textCols
// counts the leading text columns. A summary with no counterpart of ref is
// left out. It is an error when ref does not parse or has no summary, when
// a stream, scenario and strategy hold several of ref's configurations (a
// grid: keep one with --select-by, or name its settings), or when nothing
// remains to compare.
func VersusRows(sums []results.Summary, refText string, opts Options) (header []string, rows [][]string, textCols int, err error) {
	ref, err := ParseVersus(refText)
	if err != nil {
		return nil, nil, 0, err
	}
	sorted := append([]results.Summary(nil), sums...)
	results.SortSummaries(sorted)
	isRef := ref.matches
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
			return nil, nil, 0, fmt.Errorf("--versus %s: several configurations of %s on %s; keep one per grid with --select-by val-acc, name its settings (--versus %s,KEY=VALUE) or narrow the filters", refText, ref, group(s), ref.Method)
		}
		refs[group(s)] = s
	}
	if len(refs) == 0 {
		list := make([]string, 0, len(names))
		for n := range names {
			list = append(list, n)
		}
		sort.Strings(list)
		return nil, nil, 0, fmt.Errorf("--versus %s: no configuration of %s among the selected runs; their methods: %s", refText, ref, strings.Join(list, ", "))
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
		row := []string{MethodName(s.Method, s.SpecJSON), s.Stream, s.Scenario, StrategyLabel(s.SpecJSON), ref.String()}
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
		return nil, nil, 0, fmt.Errorf("--versus %s: no other configuration shares a stream, scenario and strategy with %s", refText, ref)
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
