package results

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/noprop/noprop/results/metrics"
)

// SelectBy chooses, among the configurations of a grid, the one to report:
// per group of configurations that share method name, stream (dataset
// included), scenario and strategy, and so differ only in their settings
// (a grid's points, presets), the one with the highest mean of metric over
// its seeds; the first in SortSummaries' order on a tie. Selecting by
// the validation ACC (metrics.ValACC) reports test numbers of a
// configuration the test sets did not choose. A configuration without the
// metric (run without a validation set) is no candidate, and left out:
// dropped counts them; a group without candidates has no row.
//
// chosen are the selected summaries, in SortSummaries' order; why says,
// per chosen config hash, which configuration won and by how much it was
// chosen: its settings that differ within the group, the metric's mean,
// and among how many.
func SelectBy(sums []Summary, metric string) (chosen []Summary, why map[string]string, dropped int) {
	sorted := append([]Summary(nil), sums...)
	SortSummaries(sorted)
	groups := map[string][]Summary{}
	var order []string
	for _, s := range sorted {
		k := selectKey(s)
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	why = map[string]string{}
	for _, k := range order {
		group := groups[k]
		best, bestMean, candidates := -1, math.Inf(-1), 0
		for i, s := range group {
			st, ok := s.Metrics[metric]
			if !ok || st.N == 0 || !isFinite(st.Mean) {
				continue
			}
			candidates++
			if st.Mean > bestMean {
				best, bestMean = i, st.Mean
			}
		}
		dropped += len(group) - candidates
		if best < 0 {
			continue
		}
		b := group[best]
		chosen = append(chosen, b)
		settings := SettingsThatDiffer(group)[b.ConfigHash]
		if settings == "" {
			settings = "the only configuration"
		}
		why[b.ConfigHash] = fmt.Sprintf("%s (%s %.2f, best of %d)", settings, metrics.Title(metric), bestMean, candidates)
	}
	return chosen, why, dropped
}

// selectKey is the group of a configuration for SelectBy.
func selectKey(s Summary) string {
	var spec struct {
		Strategy string `json:"strategy"`
	}
	json.Unmarshal([]byte(s.SpecJSON), &spec) // a spec that does not parse is grouped as fine-tuning
	return strings.Join([]string{s.Method, s.Stream, s.Scenario, spec.Strategy}, "\x00")
}
