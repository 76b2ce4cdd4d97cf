package noprop

import (
	"context"
	"errors"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// TestEmbeddingCollapseGuard: a learned W_Embed whose active rows have
// shrunk to a twentieth of their initial spread stops NoProp-CT and -FM as
// collapsed, whatever their accuracy; at a half it trains on, and
// collapse_check off lets it train.
func TestEmbeddingCollapseGuard(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 16, TestPer: 1,
		Shape: tasks.Shape{C: 1, H: 1, W: 6}, Noise: 0.3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	const base = `{"encoder":"mlp","hidden":4,"embedding":"learned","embed_dim":5,"iterations":1,"batch_size":16`
	for _, m := range []methods.Method{CTMethod, FMMethod} {
		for _, tc := range []struct {
			name, extra string
			shrink      float32
			collapsed   bool
		}{
			{"shrunk", "", 0.05, true},
			{"halved", "", 0.5, false},
			{"shrunk, guard off", `,"collapse_check":false`, 0.05, false},
		} {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				settings := base + tc.extra
				if m.Name == CTMethod.Name {
					settings += `,"schedule_hidden":4`
				}
				l := newTestRule[methods.Learner](t, m, ds, 1, settings+"}")
				w := l.(interface{ Embedding() *Embedding }).Embedding().W.Value
				for i := range w {
					w[i] *= tc.shrink
				}
				err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil)
				if got := errors.Is(err, methods.ErrCollapsed); got != tc.collapsed {
					t.Errorf("Learn: %v; want collapsed %v", err, tc.collapsed)
				}
			})
		}
	}
}
