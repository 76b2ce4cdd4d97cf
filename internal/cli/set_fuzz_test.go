package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
)

// FuzzSetValues: any --set value for any setting of the real catalog's
// rules is accepted and checked, or refused in one line; nothing panics and
// nothing is allocated by the check (sizes are bounded before a learner
// exists). make test runs it briefly beyond its seed corpus.
func FuzzSetValues(f *testing.F) {
	for _, seed := range [][2]string{
		{"lr", "1e-3"}, {"lr", "1e300"}, {"lr", "1e309"}, {"hidden", "[1000000000000]"},
		{"batch_size", "9223372036854775807"}, {"timesteps", "100000000"}, {"embed_dim", "-1"},
		{"noprop-dt.epochs", "2"}, {"backprop.hidden", "[256,256]"}, {"embedding", "\"learned\""},
		{"ensemble_chains", "1000000000"}, {"eta", "NaN"}, {"momentum", "0.9999999999999999"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		fl := runFlags{methods: []string{"backprop", "noprop-dt:quick", "noprop-ct"}, sets: []string{key + "=" + value},
			study: harness.DefaultSweep()}
		fl.study.Scenarios = []string{"class"}
		specs, err := fl.specs(context.Background())
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error of several lines: %q", err)
			}
			return
		}
		for _, s := range specs {
			if err := s.Validate(); err != nil {
				t.Errorf("accepted an invalid run: %v", err)
			}
		}
	})
}
