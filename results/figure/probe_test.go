package figure

import (
	"slices"
	"testing"
)

// TestStagesInTheLearnersOrder: stages stored sorted by name (as an import
// or merge may leave them) are drawn in the learner's order.
func TestStagesInTheLearnersOrder(t *testing.T) {
	stored := []string{"chain 1", "chain 10", "chain 2", "denoise 1", "denoise 10", "denoise 2", "embedding", "head", "other"}
	want := []string{"denoise 1", "denoise 2", "denoise 10", "chain 1", "chain 2", "chain 10", "head", "embedding", "other"}
	got := slices.Clone(stored)
	slices.SortStableFunc(got, compareStages)
	if !slices.Equal(got, want) {
		t.Errorf("stages drawn in the order %q, want %q", got, want)
	}
}
