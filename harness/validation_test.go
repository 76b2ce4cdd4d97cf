package harness

import (
	"fmt"
	"testing"

	"github.com/noprop/noprop/results/metrics"
)

// TestValidationIsNeverTrainedOn runs every strategy with a validation
// set and checks that no Learn call held a validation example, and that
// the validation matrix and its ACC are kept.
func TestValidationIsNeverTrainedOn(t *testing.T) {
	for _, strategy := range Strategies() {
		t.Run(strategy, func(t *testing.T) {
			res, calls, s := runRecorded(t, strategySpec(t, "centroid", "class", strategy, 0.25, 1))
			held := map[string]bool{}
			for _, task := range s.Tasks {
				if task.Val.Len() != 30 {
					t.Fatalf("task %d: %d validation examples, want 30 (a quarter of 60 per class, 2 classes)", task.ID, task.Val.Len())
				}
				v := task.Val.Set()
				for i := range v.Len() {
					held[fmt.Sprint(v.Row(i))] = true
				}
			}
			for c, cl := range calls {
				for i := range cl.data.Len() {
					if held[fmt.Sprint(cl.data.Row(i))] {
						t.Fatalf("Learn call %d trained on a validation example", c)
					}
				}
			}
			if len(res.ValMatrix) != 3 || len(res.ValMatrix[2]) != 2 {
				t.Fatalf("validation matrix %v: want 3×2", res.ValMatrix)
			}
			last := res.Metrics[len(res.Metrics)-1]
			if want := (res.ValMatrix[2][0] + res.ValMatrix[2][1]) / 2; last.Name != metrics.ValACC || last.Value != want {
				t.Errorf("last metric %+v, want %s = %v", last, metrics.ValACC, want)
			}
		})
	}
}
