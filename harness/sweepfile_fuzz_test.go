package harness

import (
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
)

// FuzzSweepFile: whatever the file holds, ParseSweep returns runs or one
// line naming the file, never panics, and never lists more runs than the
// limit. make test runs it briefly beyond its seed corpus
// (testdata/fuzz/FuzzSweepFile holds inputs worth keeping).
func FuzzSweepFile(f *testing.F) {
	for _, seed := range []string{
		goodSweep,
		"methods: [centroid]\n",
		"methods:\n  - centroid:paper\nseeds: 3\nfirst_seed: 18446744073709551615\n",
		"methods:\n  - name: centroid\n    grid: {noise: [1e-3, 2e0, -1]}\ndatasets: [synthetic, synthetic]\n",
		"a: &a [x, x]\nmethods:\n  - name: centroid\n    settings: {noise: *a}\n",
		"methods: [centroid]\nseeds: 100000000000\nmax_runs: -1\n",
		"methods: [centroid]\ntasks: -5\nscenarios: [class, class-il, task]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		specs, err := ParseSweep("study.yaml", []byte(src), harnesstest.Catalog, harnesstest.Classes)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "study.yaml") {
				t.Errorf("error is not one line naming the file: %q", msg)
			}
			return
		}
		if len(specs) == 0 || len(specs) > DefaultMaxRuns*10 {
			t.Errorf("%d runs", len(specs))
		}
		for _, s := range specs {
			if err := s.Validate(); err != nil {
				t.Errorf("a listed run is invalid: %v", err)
			}
		}
	})
}
