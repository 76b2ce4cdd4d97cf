package methods

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// TestTrainerAhead trains parts divided into Own and Rest with Ahead 1 to
// 5, on budgets whose last round is cut short, and checks that every
// part's Own shares see the minibatches they see in turn, that the Rest
// shares come in the order of the parts in turn, each after its Own, with
// the same reports,
// and that the Own shares of all but a group's first part ran on workers.
// A part without Own trains in turn.
func TestTrainerAhead(t *testing.T) {
	type trace struct {
		own   [][]float32 // per part, every Own share's minibatch, in order
		rest  []string    // every Rest share: part and step
		log   []string
		onW   int // Own shares by workers
		parts int
	}
	train := func(t *testing.T, ahead, iters, nParts int, plain bool) trace {
		tr := NewTrainer(DefaultTraining(4, 2, iters), nn.NewRNG(3))
		tr.Ahead = ahead
		task, err := NewTaskData(toySet(18, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
		if err != nil {
			t.Fatal(err)
		}
		tc := trace{own: make([][]float32, nParts), parts: nParts}
		var mu sync.Mutex
		ownDone := make([]atomic.Int64, nParts)
		restDone := make([]int64, nParts)
		parts := make([]Part, nParts)
		for i := range parts {
			parts[i] = Part{Name: fmt.Sprint("part ", i),
				Own: func(w, k int, b Batch) {
					tc.own[i] = append(tc.own[i], b.X.Data...) // only this part's worker writes it
					ownDone[i].Add(1)
					if w > 0 {
						mu.Lock()
						tc.onW++
						mu.Unlock()
					}
				},
				Rest: func(k int, b Batch) (Step, error) {
					if restDone[i]++; ownDone[i].Load() < restDone[i] {
						return Step{}, fmt.Errorf("the Rest of part %d's step %d before its Own", i, k)
					}
					tc.rest = append(tc.rest, fmt.Sprint(i, k, b.X.Data))
					return Step{Loss: float64(i + k), Correct: b.Y[0]}, nil
				}}
			if plain && i == 1 {
				parts[i].Own, parts[i].Rest = nil, nil
				parts[i].Step = func(b Batch) (Step, error) {
					tc.own[i] = append(tc.own[i], b.X.Data...)
					tc.rest = append(tc.rest, fmt.Sprint(i, b.X.Data))
					return Step{Loss: 1}, nil
				}
			}
		}
		err = tr.Train(context.Background(), task, ObserverFunc(func(e EpochStats) {
			tc.log = append(tc.log, fmt.Sprint(e.Part, e.Epoch, e.Loss, e.TrainAcc, e.Examples, e.RoundEnd))
		}), parts...)
		if err != nil {
			t.Fatal(err)
		}
		return tc
	}
	for _, tc := range []struct {
		name         string
		iters, parts int
		plain        bool
	}{
		{"epochs", 0, 5, false},
		{"iterations, the last round short", 11, 4, false},
		{"one part in turn", 0, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := train(t, 1, tc.iters, tc.parts, tc.plain)
			if want.onW != 0 {
				t.Fatalf("Ahead 1: %d Own shares on workers", want.onW)
			}
			for _, ahead := range []int{2, 3, 5} {
				got := train(t, ahead, tc.iters, tc.parts, tc.plain)
				for i := range want.own {
					if !slices.Equal(got.own[i], want.own[i]) {
						t.Errorf("Ahead %d: part %d's Own shares saw %v, want %v", ahead, i, got.own[i], want.own[i])
					}
				}
				if !slices.Equal(got.rest, want.rest) || !slices.Equal(got.log, want.log) {
					t.Errorf("Ahead %d: Rest shares %v\nreports %v\nwant %v\n%v", ahead, got.rest, got.log, want.rest, want.log)
				}
				if got.onW == 0 {
					t.Errorf("Ahead %d: no Own share ran on a worker", ahead)
				}
			}
		})
	}
}
