package catalog

import (
	"testing"

	"github.com/noprop/noprop/methods/methodtest"
)

// TestConformance runs the conformance suite over every catalog entry and
// preset: a rule is proven by being listed.
func TestConformance(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All {
		if seen[m.Name] {
			t.Errorf("method %s listed twice", m.Name)
		}
		seen[m.Name] = true
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			methodtest.Test(t, m)
		})
	}
}
