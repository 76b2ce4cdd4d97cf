package table

import (
	"math"
	"strings"
	"testing"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

func TestFormatStat(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		st   results.Stat
		n    int
		want string
	}{
		{results.Stat{Mean: 92, SE: 1.1547, N: 3}, 3, "92.00 ± 1.15"},
		{results.Stat{Mean: 97.314, SE: nan, N: 1}, 1, "97.31"},
		{results.Stat{Mean: nan, SE: nan, N: 0}, 3, "n/a"},
		{results.Stat{Mean: -4.5, SE: 0.5, N: 2}, 3, "-4.50 ± 0.50 (n=2)"},
	}
	for _, tc := range tests {
		if got := FormatStat(tc.st, tc.n); got != tc.want {
			t.Errorf("FormatStat(%+v, %d) = %q, want %q", tc.st, tc.n, got, tc.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	nan := math.NaN()
	bp := results.Summary{
		Method: "backprop", Stream: "split-mnist", Scenario: "class-il", ConfigHash: "aaaaaaaaaaaaaaaa", N: 3,
		Metrics: map[string]results.Stat{
			metrics.ACC:        {Mean: 92, SE: 2 / math.Sqrt(3), N: 3},
			metrics.Forgetting: {Mean: 11, SE: 1, N: 2},
			metrics.BWT:        {Mean: -9, SE: 0.5, N: 3},
			metrics.FWT:        {Mean: nan, SE: nan, N: 0, Note: "undefined in class-il"},
			"lca":              {Mean: 40, SE: 1, N: 3},
		},
		PeakHeapBytes: results.Stat{Mean: 200 << 20, SE: 10 << 20, N: 3},
		PeakRSSBytes:  results.Stat{Mean: nan, SE: nan},
	}
	np := results.Summary{
		Method: "noprop", Stream: "split-mnist", Scenario: "class-il", ConfigHash: "bbbbbbbbbbbbbbbb", N: 1,
		Metrics: map[string]results.Stat{metrics.ACC: {Mean: 19.87, SE: nan, N: 1}},
	}
	perm := results.Summary{
		Method: "noprop", Stream: "permuted-mnist", Scenario: "domain-il", ConfigHash: "cccccccccccccccc", N: 2,
		Metrics: map[string]results.Stat{metrics.ACC: {Mean: 80, SE: 1, N: 2}},
	}
	bp2 := bp
	bp2.ConfigHash = "dddddddddddddddd"
	lrA, lrB := bp, bp
	lrA.ConfigHash, lrA.SpecJSON = "eeeeeeeeeeeeeeee", `{"method":"backprop","settings":{"lr":0.001,"hidden":[400]},"seed":1,"scenario":"class"}`
	lrB.ConfigHash, lrB.SpecJSON = "ffffffffffffffff", `{"method":"backprop","settings":{"lr":0.0001,"hidden":[400]},"seed":2,"scenario":"class"}`

	tests := []struct {
		name    string
		sums    []results.Summary
		opts    Options
		want    []string // substrings, in this order
		notWant []string
	}{
		{
			name: "default",
			sums: []results.Summary{np, bp, perm},
			want: []string{"method", "stream", "scenario", "seeds", "ACC", "forgetting", "BWT", "FWT", "lca",
				"permuted-mnist", "80.00 ± 1.00",
				"backprop", "92.00 ± 1.15", "11.00 ± 1.00 (n=2)", "-9.00 ± 0.50", "n/a", "40.00 ± 1.00",
				"noprop", "19.87"},
			notWant: []string{"config", "MiB", "19.87 ±"},
		},
		{
			name: "memory",
			sums: []results.Summary{bp},
			opts: Options{Memory: true},
			want: []string{"peak heap MiB", "peak RSS MiB", "200.0 ± 10.0", "n/a"},
		},
		{
			name:    "chosen metrics",
			sums:    []results.Summary{bp},
			opts:    Options{Metrics: []string{metrics.BWT, metrics.ACC}},
			want:    []string{"BWT", "ACC", "-9.00 ± 0.50", "92.00 ± 1.15"},
			notWant: []string{"forgetting", "FWT", "lca"},
		},
		{
			name:    "config column for same method, stream and scenario",
			sums:    []results.Summary{bp2, bp},
			want:    []string{"config", "aaaaaaaaaaaa", "dddddddddddd"},
			notWant: []string{"aaaaaaaaaaaaa"},
		},
		{
			name:    "the settings that differ name the configurations",
			sums:    []results.Summary{lrB, lrA},
			want:    []string{"config", "ffffffffffff lr=0.0001", "eeeeeeeeeeee lr=0.001"}, // by setting, not by hash
			notWant: []string{"hidden", "seed=", "scenario="},
		},
		{
			name:    "markdown",
			sums:    []results.Summary{np},
			opts:    Options{Format: Markdown},
			want:    []string{"| method", "|:-", "| noprop"},
			notWant: []string{"┌"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := Write(&b, tc.sums, tc.opts); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			assertInOrder(t, out, tc.want)
			for _, s := range tc.notWant {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
		})
	}
}

func TestWriteMatrix(t *testing.T) {
	nan := math.NaN()
	mean := [][]float64{{10, 10.04}, {97.31, nan}, {80, 95.56}}
	se := [][]float64{{0, 0}, {0.44, nan}, {nan, 1.26}}
	tests := []struct {
		name    string
		title   string
		se      [][]float64
		want    []string
		notWant []string
	}{
		{"with se", "noprop, split-mnist", se,
			[]string{"noprop, split-mnist\n", "task 1", "task 2", "untrained", "10.0 ± 0.0",
				"after task 1", "97.3 ± 0.4", "n/a", "after task 2", "80.0 ", "95.6 ± 1.3"}, nil},
		{"without se", "", nil,
			[]string{"task 1", "untrained", "10.0", "after task 1", "97.3", "n/a"}, []string{"±"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := WriteMatrix(&b, Text, tc.title, mean, tc.se); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			assertInOrder(t, out, tc.want)
			for _, s := range tc.notWant {
				if strings.Contains(out, s) {
					t.Errorf("output contains %q:\n%s", s, out)
				}
			}
		})
	}
	bad := []struct {
		name     string
		mean, se [][]float64
	}{
		{"empty", nil, nil},
		{"ragged", [][]float64{{1, 2}, {1}}, nil},
		{"se rows", [][]float64{{1}, {2}}, [][]float64{{1}}},
		{"se columns", [][]float64{{1}, {2}}, [][]float64{{1}, {1, 2}}},
	}
	for _, tc := range bad {
		if err := WriteMatrix(&strings.Builder{}, Text, "", tc.mean, tc.se); err == nil {
			t.Errorf("%s: WriteMatrix succeeded, want error", tc.name)
		}
	}
}

// assertInOrder checks that out contains the substrings in order.
func assertInOrder(t *testing.T, out string, subs []string) {
	t.Helper()
	rest := out
	for _, s := range subs {
		i := strings.Index(rest, s)
		if i < 0 {
			t.Errorf("output lacks %q (in order) in:\n%s", s, out)
			return
		}
		rest = rest[i+len(s):]
	}
}

// TestMarkdownCellsAreEscaped: a stored name cannot end a Markdown cell or
// add HTML to a report.
func TestMarkdownCellsAreEscaped(t *testing.T) {
	var b strings.Builder
	if err := WriteRows(&b, Markdown, 1, []string{"method", "ACC"}, [][]string{{"a|b <i>x</i>", "1.0"}}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, `a\|b \<i\>x\</i\>`) {
		t.Errorf("cell not escaped once:\n%s", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 3 {
			t.Errorf("line %q has %d cell borders, want 3", line, n)
		}
	}
}
