package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// MaxValidation bounds StreamConfig.Validation: a task keeps more than half
// of its training data to learn from.
const MaxValidation = 0.5

func checkValidation(v float64) error {
	if math.IsNaN(v) || v < 0 || v >= MaxValidation {
		return fmt.Errorf("validation %v: want a fraction in [0, %v) of each task's training data (0: none held out)", v, MaxValidation)
	}
	return nil
}

// holdOut moves a seeded, stratified fraction of every task's training
// examples into the task's validation set (Task.Val): for each class,
// round(fraction·n) of its n examples, drawn from a stream seeded by the
// run's seed and the task, so the split is the same for every method of a
// seed and another seed draws another. Both parts keep the dataset's order.
// A permuted stream's tasks all permute one shared set; it is split once,
// so its tasks hold their two parts of it, not a copy per task (the same
// images are held out of every task, each task permuting them its way).
func holdOut(s *Stream, fraction float64, seed uint64) {
	s.Choices.Validation = fraction
	type parts struct{ train, val Set }
	shared := map[*float32]parts{}
	for k := range s.Tasks {
		t := &s.Tasks[k]
		base := t.Train.set
		key := (*float32)(nil)
		if t.Train.perm != nil && len(base.X) > 0 {
			key = &base.X[0]
		}
		p, ok := shared[key]
		if !ok || key == nil {
			stream := uint64(t.ID)
			if key != nil {
				stream = 0 // one split of the shared set
			}
			train, val := StratifiedSplit(base.Y, fraction, rand.New(rand.NewPCG(seed, 0x7a1d_0000+stream)))
			p = parts{base.Subset(train), base.Subset(val)}
			if key != nil {
				shared[key] = p
			}
		}
		t.Train = Examples{set: p.train, perm: t.Train.perm}
		t.Val = Examples{set: p.val, perm: t.Train.perm}
	}
}

// StratifiedSplit splits the indices of labels y in two: for every class,
// round(fraction·n) of its n indices, chosen by r, go to held, the rest to
// kept; both ascending.
func StratifiedSplit(y []int, fraction float64, r *rand.Rand) (kept, held []int) {
	byClass := map[int][]int{}
	var classes []int
	for i, c := range y {
		if _, ok := byClass[c]; !ok {
			classes = append(classes, c)
		}
		byClass[c] = append(byClass[c], i)
	}
	slices.Sort(classes) // a fixed order of draws, whatever map order is
	for _, c := range classes {
		idx := byClass[c]
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := int(math.Round(fraction * float64(len(idx))))
		held = append(held, idx[:n]...)
		kept = append(kept, idx[n:]...)
	}
	slices.Sort(kept)
	slices.Sort(held)
	return kept, held
}
