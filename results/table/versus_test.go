package table

import (
	"math"
	"strings"
	"testing"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// versusSummary is a summary of method on split MNIST in scenario with
// strategy ("" fine-tunes), its ACC over seeds accs.
func versusSummary(method, preset, scenario, strategy, hash string, accs ...float64) results.Summary {
	spec := `{"method":"` + method + `","preset":"` + preset + `","strategy":"` + strategy + `"}`
	return results.Summary{Method: method, Stream: "split-mnist", Scenario: scenario, ConfigHash: hash, SpecJSON: spec,
		N: len(accs), Metrics: map[string]results.Stat{metrics.ACC: results.NewStat(accs, nil)}}
}

// withSettings returns s with method settings, a JSON object.
func withSettings(s results.Summary, settings string) results.Summary {
	s.SpecJSON = strings.TrimSuffix(s.SpecJSON, "}") + `,"settings":` + settings + "}"
	return s
}

func TestVersusRows(t *testing.T) {
	ref := versusSummary("backprop-dt", "", "class", "", "r1", 1, 2, 3, 4, 5)
	np := versusSummary("noprop-dt", "", "class", "", "n1", 3, 4, 5, 6, 7)
	npReplay := versusSummary("noprop-dt", "", "class", "replay", "n2", 50, 51)
	refReplay := versusSummary("backprop-dt", "", "class", "replay", "r2", 40, 44)
	npTask := versusSummary("noprop-dt", "", "task", "", "n3", 90, 91) // no backprop-dt in task-IL
	quick := versusSummary("backprop-dt", "quick", "class", "", "r3", 7)
	opts := Options{Metrics: []string{metrics.ACC}}

	header, rows, textCols, err := VersusRows([]results.Summary{np, ref, npReplay, refReplay, npTask}, "backprop-dt", opts)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := []string{"method", "stream", "scenario", "strategy", "versus", "seeds", "ACC difference"}
	if strings.Join(header, "|") != strings.Join(wantHeader, "|") || textCols != 5 {
		t.Errorf("header %q (%d text columns), want %q (5)", header, textCols, wantHeader)
	}
	want := [][]string{
		// 3..7 against 1..5: +2 ± 1 on 8 degrees of freedom, p 0.081; 50, 51
		// against 40, 44: +8.5 ± √4.25 on 1.12 degrees of freedom, p 0.130.
		{"noprop-dt", "split-mnist", "class", "finetune", "backprop-dt", "5 vs 5", "+2.00 ± 1.00 (p 0.081)"},
		{"noprop-dt", "split-mnist", "class", "replay", "backprop-dt", "2 vs 2", "+8.50 ± 2.06 (p 0.130)"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %q, want %q", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, rows[i], want[i])
		}
	}

	// A preset named picks that preset's configuration only.
	if _, rows, _, err := VersusRows([]results.Summary{np, quick}, "backprop-dt:quick", opts); err != nil || len(rows) != 1 || rows[0][5] != "5 vs 1" || rows[0][6] != "-2.00" {
		t.Errorf("versus backprop-dt:quick: %q, %v; want one row, 5 vs 1 seeds, -2.00 without an SE", rows, err)
	}

	// Settings pick one configuration of a grid, and the method's others
	// are compared with it.
	oneHot := withSettings(versusSummary("noprop-dt", "", "class", "", "h1", 1, 2, 3), `{"embedding":"one-hot","lr":0.001}`)
	learned := withSettings(versusSummary("noprop-dt", "", "class", "", "h2", 2, 3, 4), `{"embedding":"learned","lr":0.001}`)
	_, rows, _, err = VersusRows([]results.Summary{oneHot, learned}, "noprop-dt,embedding=one-hot", opts)
	if err != nil || len(rows) != 1 || rows[0][4] != "noprop-dt embedding=one-hot" || !strings.HasPrefix(rows[0][5], "h2") || rows[0][7] != "+1.00 ± 0.82 (p 0.288)" {
		t.Errorf("versus noprop-dt,embedding=one-hot: %q, %v; want the learned configuration's row, +1.00 ± 0.82", rows, err)
	}

	for _, tc := range []struct {
		name string
		sums []results.Summary
		ref  string
		want string
	}{
		{"no such method", []results.Summary{np, ref}, "ff", "--versus ff: no configuration of ff among the selected runs; their methods: backprop-dt, noprop-dt"},
		{"a grid of the reference", []results.Summary{np, ref, quick}, "backprop-dt", "--versus backprop-dt: several configurations of backprop-dt on split-mnist, class-IL, finetune; keep one per grid with --select-by val-acc"},
		{"nothing beside it", []results.Summary{ref, npTask}, "backprop-dt", "--versus backprop-dt: no other configuration shares"},
		{"settings that hold nowhere", []results.Summary{np, ref}, "backprop-dt,lr=0.1", "--versus backprop-dt,lr=0.1: no configuration of backprop-dt lr=0.1 among"},
		{"settings before the method", []results.Summary{np, ref}, "lr=0.1", "--versus \"lr=0.1\": want a method first"},
		{"a bad setting", []results.Summary{np, ref}, "backprop-dt,lr", "--versus backprop-dt,lr: --setting \"lr\": want KEY=VALUE"},
	} {
		if _, _, _, err := VersusRows(tc.sums, tc.ref, opts); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one starting %q", tc.name, err, tc.want)
		}
	}
}

func TestFormatDifference(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		d    results.Difference
		want string
	}{
		{results.Difference{Delta: 1.234, SE: 0.456, DF: 7, P: 0.0123}, "+1.23 ± 0.46 (p 0.012)"},
		{results.Difference{Delta: -10, SE: 0.5, DF: 8, P: 1e-7}, "-10.00 ± 0.50 (p < 0.001)"},
		{results.Difference{Delta: 2, SE: nan, DF: nan, P: nan}, "+2.00"},
		{results.Difference{Delta: nan, SE: nan, DF: nan, P: nan}, "n/a"},
	} {
		if got := FormatDifference(tc.d); got != tc.want {
			t.Errorf("FormatDifference(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
