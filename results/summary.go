package results

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Stat is a mean over seeds with its standard error.
type Stat struct {
	// Mean is the mean of the defined values; NaN when N is 0.
	Mean float64
	// SE is the standard error of the mean, the sample standard deviation
	// divided by sqrt(N); NaN when N < 2.
	SE float64
	// N is the number of runs whose value is defined.
	N int
	// Note is a stored note of an undefined value (e.g. "needs at least 2
	// tasks"), set when some run's value is undefined.
	Note string
}

// NewStat returns the mean and standard error of the finite values in xs.
// The first non-empty note of a value that is not finite becomes the Stat's
// Note; notes may be nil.
func NewStat(xs []float64, notes []string) Stat {
	st := Stat{Mean: math.NaN(), SE: math.NaN()}
	var sum float64
	for i, x := range xs {
		if isFinite(x) {
			sum += x
			st.N++
		} else if st.Note == "" && i < len(notes) {
			st.Note = notes[i]
		}
	}
	if st.N == 0 {
		return st
	}
	st.Mean = sum / float64(st.N)
	if st.N < 2 {
		return st
	}
	var ss float64
	for _, x := range xs {
		if isFinite(x) {
			d := x - st.Mean
			ss += d * d
		}
	}
	st.SE = math.Sqrt(ss/float64(st.N-1)) / math.Sqrt(float64(st.N))
	return st
}

// Summary aggregates the done runs of one configuration over seeds.
type Summary struct {
	Method, Stream, Scenario, ConfigHash string
	// SpecJSON is the spec of one of the runs (they differ only in seed).
	SpecJSON string
	// N is the number of runs (seeds) aggregated. When a seed was run more
	// than once, only its latest done run counts.
	N int
	// Seeds are the seeds aggregated, ascending.
	Seeds []uint64
	// RunIDs are the aggregated runs, in the order of Seeds.
	RunIDs []string
	// Metrics holds, per metric name, the mean and standard error of the
	// metric over the runs (computed per run, not from the mean matrix).
	Metrics map[string]Stat
	// PeakHeapBytes and PeakRSSBytes aggregate the runs' peak memory, in
	// bytes, over the runs that recorded it.
	PeakHeapBytes, PeakRSSBytes Stat
}

// doneRuns returns the done runs matching f, one per (config hash, seed): the
// latest to end.
func (s *Store) doneRuns(ctx context.Context, f Filter) ([]Run, error) {
	f.Status = StatusDone
	runs, err := s.Runs(ctx, f)
	if err != nil {
		return nil, err
	}
	type key struct {
		hash string
		seed uint64
	}
	latest := map[key]int{}
	var out []Run
	for _, r := range runs {
		k := key{r.ConfigHash, r.Seed}
		if i, ok := latest[k]; ok {
			if !r.Ended.Before(out[i].Ended) {
				out[i] = r
			}
			continue
		}
		latest[k] = len(out)
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].ConfigHash != out[b].ConfigHash {
			return out[a].ConfigHash < out[b].ConfigHash
		}
		return out[a].Seed < out[b].Seed
	})
	return out, nil
}

// Summaries aggregates the done runs matching f over seeds: one Summary per
// (method, stream, scenario, config hash), sorted by stream, scenario,
// method and config hash. Each metric's mean and standard error are computed
// from the per-run values; runs where the metric is undefined (NULL) are left
// out of that metric's Stat.
func (s *Store) Summaries(ctx context.Context, f Filter) ([]Summary, error) {
	runs, err := s.doneRuns(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("summaries: %w", err)
	}
	type group struct {
		sum     *Summary
		metrics map[string][]float64
		notes   map[string][]string
		heap    []float64
		rss     []float64
	}
	groups := map[[4]string]*group{}
	var order []*group
	for _, r := range runs {
		k := [4]string{r.Method, r.Stream, r.Scenario, r.ConfigHash}
		g := groups[k]
		if g == nil {
			g = &group{
				sum: &Summary{Method: r.Method, Stream: r.Stream, Scenario: r.Scenario,
					ConfigHash: r.ConfigHash, SpecJSON: r.SpecJSON, Metrics: map[string]Stat{}},
				metrics: map[string][]float64{},
				notes:   map[string][]string{},
			}
			groups[k] = g
			order = append(order, g)
		}
		g.sum.N++
		g.sum.Seeds = append(g.sum.Seeds, r.Seed)
		g.sum.RunIDs = append(g.sum.RunIDs, r.ID)
		g.heap = append(g.heap, bytesOrNaN(r.PeakHeapBytes))
		g.rss = append(g.rss, bytesOrNaN(r.PeakRSSBytes))
	}
	for _, g := range order {
		for _, id := range g.sum.RunIDs {
			ms, err := s.Metrics(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("summaries: %w", err)
			}
			for _, m := range ms {
				g.metrics[m.Name] = append(g.metrics[m.Name], m.Value)
				g.notes[m.Name] = append(g.notes[m.Name], m.Note)
			}
		}
	}
	out := make([]Summary, 0, len(order))
	for _, g := range order {
		for name, xs := range g.metrics {
			g.sum.Metrics[name] = NewStat(xs, g.notes[name])
		}
		g.sum.PeakHeapBytes = NewStat(g.heap, nil)
		g.sum.PeakRSSBytes = NewStat(g.rss, nil)
		out = append(out, *g.sum)
	}
	SortSummaries(out)
	return out, nil
}

func bytesOrNaN(b int64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return float64(b)
}

// SortSummaries orders summaries as tables and figures show them: by
// stream, scenario and method, then by the settings in which a method's
// configurations differ (numbers as numbers: lr=0.0001 before lr=0.001),
// then by configuration hash.
func SortSummaries(sums []Summary) {
	differs := SettingsThatDiffer(sums)
	sort.SliceStable(sums, func(a, b int) bool {
		x, y := sums[a], sums[b]
		if x.Stream != y.Stream {
			return x.Stream < y.Stream
		}
		if x.Scenario != y.Scenario {
			return x.Scenario < y.Scenario
		}
		if x.Method != y.Method {
			return x.Method < y.Method
		}
		if dx, dy := differs[x.ConfigHash], differs[y.ConfigHash]; dx != dy {
			return lessSettings(dx, dy)
		}
		return x.ConfigHash < y.ConfigHash
	})
}

// lessSettings orders two "k=v k=v" lists key by key, values that are
// numbers as numbers.
func lessSettings(a, b string) bool {
	pa, pb := strings.Fields(a), strings.Fields(b)
	for i := range min(len(pa), len(pb)) {
		if pa[i] == pb[i] {
			continue
		}
		ka, va, _ := strings.Cut(pa[i], "=")
		kb, vb, _ := strings.Cut(pb[i], "=")
		if ka != kb {
			return ka < kb
		}
		fa, errA := strconv.ParseFloat(va, 64)
		fb, errB := strconv.ParseFloat(vb, 64)
		if errA == nil && errB == nil && fa != fb {
			return fa < fb
		}
		return va < vb
	}
	return len(pa) < len(pb)
}

// MeanMatrix averages the accuracy matrices of the done runs with this
// config hash, or a prefix of it that selects one configuration (one run per
// seed, as in Summaries): mean and se are (T+1) x T, cell by cell over the
// runs where the cell is defined (see CellStats), and n is the number of runs.
func (s *Store) MeanMatrix(ctx context.Context, configHash string) (mean, se [][]float64, n int, err error) {
	runs, err := s.doneRuns(ctx, Filter{ConfigHash: configHash})
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: %w", configHash, err)
	}
	if len(runs) == 0 {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: done runs %w", configHash, ErrNotFound)
	}
	if last := runs[len(runs)-1]; last.ConfigHash != runs[0].ConfigHash {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: the prefix matches configs %s and %s; give more digits",
			configHash, runs[0].ConfigHash, last.ConfigHash)
	}
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	mean, se, _, err = s.meanOfRuns(ctx, ids)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("mean matrix of config %s: %w", configHash, err)
	}
	return mean, se, len(runs), nil
}
