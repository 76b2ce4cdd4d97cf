// Package paper holds the NoProp paper's published numbers (Li, Teh,
// Pascanu 2025: Table 1's test accuracies, Table 3's training memory) and
// sets stored runs beside them: each Table 1 row the harness has run, ours
// as mean ± standard error over seeds × inference runs (the paper's
// protocol), the paper's, and the difference in standard errors.
//
// It reads the results store and imports nothing of methods or the
// training loop.
package paper

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/table"
)

// Row is one published test accuracy (percent, mean ± standard error).
type Row struct {
	Method    string // the catalog's name of the rule the row reports
	Embedding string // one-hot, learned (the paper's dim=20), prototype; "" for rules without one
	Dataset   string // mnist, cifar10, cifar100
	Mean, SE  float64
	// N is the number of values behind the mean: 15 for the paper's own
	// rows (3 seeds × 5 inference runs), 0 for numbers it quotes.
	N int
	// Source names where the number comes from.
	Source string
}

// Table1 is the NoProp paper's Table 1 (test accuracy, %), the rows whose
// rule the catalog holds: "Backprop" is backprop-dt, NoProp's
// discrete-time back-propagation twin. The three earlier methods are
// quoted by the paper from their own papers, on other architectures.
var Table1 = []Row{
	{"backprop-dt", "one-hot", "mnist", 99.46, 0.06, 15, "NoProp Table 1"},
	{"backprop-dt", "learned", "mnist", 99.43, 0.03, 15, "NoProp Table 1"},
	{"backprop-dt", "prototype", "mnist", 99.44, 0.05, 15, "NoProp Table 1"},
	{"noprop-dt", "one-hot", "mnist", 99.47, 0.05, 15, "NoProp Table 1"},
	{"noprop-dt", "learned", "mnist", 99.49, 0.04, 15, "NoProp Table 1"},
	{"noprop-dt", "prototype", "mnist", 99.54, 0.04, 15, "NoProp Table 1"},
	{"adjoint", "one-hot", "mnist", 98.62, 0.14, 15, "NoProp Table 1"},
	{"noprop-ct", "one-hot", "mnist", 97.84, 0.71, 15, "NoProp Table 1"},
	{"noprop-ct", "learned", "mnist", 97.70, 0.51, 15, "NoProp Table 1"},
	{"noprop-ct", "prototype", "mnist", 97.17, 0.94, 15, "NoProp Table 1"},
	{"noprop-fm", "one-hot", "mnist", 99.21, 0.09, 15, "NoProp Table 1"},
	{"noprop-fm", "learned", "mnist", 99.29, 0.05, 15, "NoProp Table 1"},
	{"noprop-fm", "prototype", "mnist", 98.52, 0.16, 15, "NoProp Table 1"},
	{"ff", "", "mnist", 98.63, math.NaN(), 0, "Hinton 2022, quoted by NoProp Table 1"},
	{"lg-fg-a", "", "mnist", 97.45, math.NaN(), 0, "Ren et al. 2023, quoted by NoProp Table 1"},
	{"dtp", "", "mnist", 98.06, math.NaN(), 0, "Lee et al. 2015, quoted by NoProp Table 1"},

	{"backprop-dt", "one-hot", "cifar10", 79.92, 0.14, 15, "NoProp Table 1"},
	{"backprop-dt", "learned", "cifar10", 79.3, 0.52, 15, "NoProp Table 1"},
	{"backprop-dt", "prototype", "cifar10", 79.58, 0.44, 15, "NoProp Table 1"},
	{"noprop-dt", "one-hot", "cifar10", 79.25, 0.28, 15, "NoProp Table 1"},
	{"noprop-dt", "learned", "cifar10", 79.12, 0.37, 15, "NoProp Table 1"},
	{"noprop-dt", "prototype", "cifar10", 80.54, 0.2, 15, "NoProp Table 1"},
	{"adjoint", "one-hot", "cifar10", 66.78, 0.76, 15, "NoProp Table 1"},
	{"noprop-ct", "one-hot", "cifar10", 73.35, 0.55, 15, "NoProp Table 1"},
	{"noprop-ct", "learned", "cifar10", 71.77, 2.47, 15, "NoProp Table 1"},
	{"noprop-ct", "prototype", "cifar10", 66.54, 3.63, 15, "NoProp Table 1"},
	{"noprop-fm", "one-hot", "cifar10", 73.14, 0.9, 15, "NoProp Table 1"},
	{"noprop-fm", "learned", "cifar10", 73.5, 0.28, 15, "NoProp Table 1"},
	{"noprop-fm", "prototype", "cifar10", 75.18, 0.57, 15, "NoProp Table 1"},
	{"lg-fg-a", "", "cifar10", 69.32, math.NaN(), 0, "Ren et al. 2023, quoted by NoProp Table 1"},
	{"dtp", "", "cifar10", 50.71, math.NaN(), 0, "Lee et al. 2015, quoted by NoProp Table 1"},

	{"backprop-dt", "one-hot", "cifar100", 45.85, 2.07, 15, "NoProp Table 1"},
	{"backprop-dt", "learned", "cifar100", 46.57, 0.87, 15, "NoProp Table 1"},
	{"backprop-dt", "prototype", "cifar100", 47.8, 0.19, 15, "NoProp Table 1"},
	{"noprop-dt", "one-hot", "cifar100", 45.93, 0.46, 15, "NoProp Table 1"},
	{"noprop-dt", "learned", "cifar100", 45.19, 0.22, 15, "NoProp Table 1"},
	{"noprop-dt", "prototype", "cifar100", 46.06, 0.25, 15, "NoProp Table 1"},
	{"adjoint", "one-hot", "cifar100", 25.03, 0.7, 15, "NoProp Table 1"},
	{"noprop-ct", "one-hot", "cifar100", 33.66, 0.5, 15, "NoProp Table 1"},
	{"noprop-ct", "learned", "cifar100", 33.99, 1.08, 15, "NoProp Table 1"},
	{"noprop-ct", "prototype", "cifar100", 21.31, 4.17, 15, "NoProp Table 1"},
	{"noprop-fm", "one-hot", "cifar100", 6.38, 4.9, 15, "NoProp Table 1"},
	{"noprop-fm", "learned", "cifar100", 31.14, 0.52, 15, "NoProp Table 1"},
	{"noprop-fm", "prototype", "cifar100", 37.57, 0.32, 15, "NoProp Table 1"},
}

// Table3GB is the NoProp paper's Table 3: GPU memory allocated in training
// (GB), one-hot embeddings, by rule and dataset. "Backprop" is backprop-dt.
var Table3GB = map[string]map[string]float64{
	"backprop-dt": {"mnist": 0.87, "cifar10": 1.17, "cifar100": 1.73},
	"noprop-dt":   {"mnist": 0.49, "cifar10": 0.64, "cifar100": 1.23},
	"adjoint":     {"mnist": 2.32, "cifar10": 6.23, "cifar100": 6.45},
	"noprop-ct":   {"mnist": 1.05, "cifar10": 0.45, "cifar100": 0.50},
	"noprop-fm":   {"mnist": 1.06, "cifar10": 0.44, "cifar100": 0.49},
}

// paperDataset maps a stored dataset to the paper's: the JPEG copy of
// CIFAR-10 stands in for CIFAR-10, and says so.
func paperDataset(name string) (dataset, label string, ok bool) {
	switch name {
	case "mnist":
		return "mnist", "MNIST", true
	case "cifar10":
		return "cifar10", "CIFAR-10", true
	case "cifar10-jpeg":
		return "cifar10", "CIFAR-10 (JPEG copy)", true
	case "cifar100":
		return "cifar100", "CIFAR-100", true
	}
	return "", "", false
}

// Lookup returns the published row of a rule, embedding and dataset (the
// paper's names: mnist, cifar10, cifar100).
func Lookup(method, embedding, dataset string) (Row, bool) {
	for _, r := range Table1 {
		if r.Method == method && r.Embedding == embedding && r.Dataset == dataset {
			return r, true
		}
	}
	return Row{}, false
}

// Comparison is one stored configuration beside its published row.
type Comparison struct {
	Dataset   string // as the paper names it, with "(JPEG copy)" where it applies
	Method    string
	Embedding string
	// Ours pools the final test accuracy of every seed and inference run.
	Ours      results.Stat
	Seeds     int
	Runs      int // inference runs per seed
	Published Row
	// Budget is the training budget as the settings state it ("100
	// epochs", "2000 iterations").
	Budget string
	// PeakHeapMiB and PeakRSSMiB are the runs' mean peak memory; NaN when
	// not recorded. PaperGB is Table 3's figure (NaN when it has none).
	PeakHeapMiB, PeakRSSMiB, PaperGB float64
}

// DiffSE is (ours − published) in standard errors of the difference,
// sqrt(SE_ours² + SE_paper²); NaN when either standard error is unknown.
func (c Comparison) DiffSE() float64 {
	se := math.Hypot(c.Ours.SE, c.Published.SE)
	if math.IsNaN(se) || se == 0 {
		return math.NaN()
	}
	return (c.Ours.Mean - c.Published.Mean) / se
}

// Compare finds the done configurations matching f that correspond to a
// Table 1 row (a joint stream, class-incremental: the whole dataset as one
// task, scored over all its classes) and pools their final accuracies.
// Configurations of other streams or rules are left out.
func Compare(ctx context.Context, s *results.Store, f results.Filter) ([]Comparison, error) {
	sums, err := s.Summaries(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []Comparison
	for _, sum := range sums {
		var spec struct {
			Method, Dataset, Stream, Scenario string
			Settings                          map[string]json.RawMessage
			InferenceRuns                     int `json:"inference_runs"`
		}
		if err := json.Unmarshal([]byte(sum.SpecJSON), &spec); err != nil {
			return nil, fmt.Errorf("configuration %s: spec: %w", sum.ConfigHash, err)
		}
		if spec.Stream != "joint" || spec.Scenario != "class" {
			continue
		}
		ds, label, ok := paperDataset(spec.Dataset)
		if !ok {
			continue
		}
		emb := ""
		if raw, ok := spec.Settings["embedding"]; ok {
			json.Unmarshal(raw, &emb)
		}
		row, ok := Lookup(sum.Method, emb, ds)
		if !ok {
			continue
		}
		c := Comparison{Dataset: label, Method: sum.Method, Embedding: emb, Published: row, Seeds: sum.N,
			Runs: max(spec.InferenceRuns, 1), Budget: budget(spec.Settings), PaperGB: math.NaN(),
			PeakHeapMiB: sum.PeakHeapBytes.Mean / (1 << 20), PeakRSSMiB: sum.PeakRSSBytes.Mean / (1 << 20)}
		if emb == "one-hot" {
			if gb, ok := Table3GB[sum.Method][ds]; ok {
				c.PaperGB = gb
			}
		}
		var accs []float64
		for _, id := range sum.RunIDs {
			a, err := finalAccuracies(ctx, s, id)
			if err != nil {
				return nil, err
			}
			accs = append(accs, a...)
		}
		c.Ours = results.NewStat(accs, nil)
		out = append(out, c)
	}
	order := map[string]int{"MNIST": 0, "CIFAR-10": 1, "CIFAR-10 (JPEG copy)": 1, "CIFAR-100": 2}
	rank := func(c Comparison) int {
		for i, r := range Table1 {
			if r.Method == c.Method && r.Embedding == c.Embedding {
				return i // the MNIST block comes first and holds every row
			}
		}
		return 99
	}
	slices.SortStableFunc(out, func(a, b Comparison) int {
		if d := order[a.Dataset] - order[b.Dataset]; d != 0 {
			return d
		}
		return rank(a) - rank(b)
	})
	return out, nil
}

// finalAccuracies returns a run's accuracy after its last task on it, one
// value per inference run.
func finalAccuracies(ctx context.Context, s *results.Store, runID string) ([]float64, error) {
	ms, err := s.InferenceMatrices(ctx, runID)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		m, err := s.Matrix(ctx, runID)
		if err != nil {
			return nil, err
		}
		ms = [][][]float64{m}
	}
	var out []float64
	for _, m := range ms {
		last := m[len(m)-1]
		out = append(out, last[len(last)-1])
	}
	return out, nil
}

// budget states the training budget of a rule's settings.
func budget(settings map[string]json.RawMessage) string {
	var epochs, iterations int
	json.Unmarshal(settings["epochs"], &epochs)
	json.Unmarshal(settings["iterations"], &iterations)
	if iterations > 0 {
		return fmt.Sprintf("%d iterations", iterations)
	}
	return fmt.Sprintf("%d epochs", epochs)
}

// Write prints the comparisons as one table in format f.
func Write(w io.Writer, cs []Comparison, f table.Format) error {
	header := []string{"dataset", "rule", "embedding", "budget", "seeds × runs", "ours", "paper", "Δ / SE", "peak heap / RSS MiB", "paper GB (Table 3)"}
	var rows [][]string
	for _, c := range cs {
		emb := c.Embedding
		if emb == "learned" {
			emb = "learned (dim 20)"
		}
		if emb == "" {
			emb = "–"
		}
		pub := fmt.Sprintf("%.2f ± %.2f", c.Published.Mean, c.Published.SE)
		if math.IsNaN(c.Published.SE) {
			pub = fmt.Sprintf("%.2f (quoted)", c.Published.Mean)
		}
		diff := "–"
		if d := c.DiffSE(); !math.IsNaN(d) {
			diff = fmt.Sprintf("%+.1f", d)
		}
		mem := "–"
		if !math.IsNaN(c.PeakHeapMiB) {
			mem = fmt.Sprintf("%.0f / %.0f", c.PeakHeapMiB, c.PeakRSSMiB)
		}
		gb := "–"
		if !math.IsNaN(c.PaperGB) {
			gb = fmt.Sprintf("%.2f", c.PaperGB)
		}
		rows = append(rows, []string{c.Dataset, c.Method, emb, c.Budget, fmt.Sprintf("%d × %d", c.Seeds, c.Runs),
			table.FormatStat(c.Ours, c.Seeds*c.Runs), pub, diff, mem, gb})
	}
	if len(rows) == 0 {
		return fmt.Errorf("no stored configuration matches a row of the paper's Table 1 (joint stream, class scenario, "+
			"mnist, cifar10, cifar10-jpeg or cifar100, one of %s)", strings.Join(methodNames(), ", "))
	}
	return table.WriteRows(w, f, 5, header, rows)
}

func methodNames() []string {
	var out []string
	for _, r := range Table1 {
		if !slices.Contains(out, r.Method) {
			out = append(out, r.Method)
		}
	}
	return out
}
