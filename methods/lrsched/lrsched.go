// Package lrsched holds the learning-rate schedules rules apply over the
// budget of one Learn call (one task): the factor the configured rate is
// multiplied by at every step, and a Schedule that sets it on the rule's
// optimizers before each step.
//
// It imports methods and methods/nn.
package lrsched

import (
	"fmt"
	"math"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// The schedules Factor knows, for settings tags: enum:"constant|cooldown|cosine".
const (
	// Constant keeps the configured rate.
	Constant = "constant"
	// Cooldown keeps it for the first half of the budget, then lowers it
	// linearly, to 1/T of it at the last of T steps (loeweX's
	// Forward-Forward schedule, there per epoch).
	Cooldown = "cooldown"
	// Cosine is ½(1 + cos(π(t−1)/T)): from the rate at the first step to
	// nearly 0 at the last.
	Cosine = "cosine"
)

// Factor is the rate's factor at step t (from 1) of total under the
// schedule kind. It panics on an unknown kind (settings validate it).
func Factor(kind string, t, total int) float64 {
	switch kind {
	case Constant:
		return 1
	case Cooldown:
		return min(1, 2*float64(total-t+1)/float64(total))
	case Cosine:
		return 0.5 * (1 + math.Cos(math.Pi*float64(t-1)/float64(total)))
	}
	panic(fmt.Sprintf("lrsched: unknown schedule %q", kind))
}

// Steps is the number of minibatch steps each part of a rule takes when tr
// trains on n examples: the budget a schedule spans.
func Steps(tr *methods.Trainer, n int) int {
	total := 0
	for _, s := range tr.Rounds(tr.Batches(n)) {
		total += s
	}
	return total
}

// Schedule sets the rates of optimizers step by step over a budget.
type Schedule struct {
	kind  string
	total int
	opts  []nn.LRSetter
	base  []float64
}

// New returns a schedule of the given kind over total steps.
func New(kind string, total int) *Schedule {
	Factor(kind, 1, max(total, 1)) // check the kind now
	return &Schedule{kind: kind, total: total}
}

// Add puts optimizer o, whose configured rate is base, under the schedule.
// Every optimizer of nn can be.
func (s *Schedule) Add(o nn.Optimizer, base float64) {
	s.opts = append(s.opts, o.(nn.LRSetter))
	s.base = append(s.base, base)
}

// At sets every optimizer's rate for step t (1-based).
// A rule passes its Trainer's Done()+1, so that a Learn call
// resumed from a checkpoint goes on with the rate it stopped at.
func (s *Schedule) At(t int) {
	f := Factor(s.kind, min(t, s.total), s.total)
	for i, o := range s.opts {
		o.SetLR(float32(f * s.base[i]))
	}
}
