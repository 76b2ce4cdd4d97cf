// Package methods defines the seam between the harness and the learning
// rules: the Learner interface, the Observer that hears a learner's progress,
// and the description of a method that the catalog lists.
//
// Each learning rule lives in a sub-package (backprop, noprop, ...), built
// from the layers of methods/nn. Package methods imports tasks for the data
// types and nothing of harness or results.
package methods

import (
	"context"
	"encoding/json"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// A Learner is one learning rule with its network.
//
// Outputs are numbered 0..Outputs-1, as fixed at construction. The harness
// tells the learner which outputs take part: while learning, only the active
// outputs enter the loss; the labels in data.Y are always among them.
type Learner interface {
	// Learn trains on one task's training data.
	Learn(ctx context.Context, data tasks.Set, active []int, obs Observer) error
	// Scores returns, for each row of x (one example per row), one score per
	// output: higher means more likely. The result has x.Rows rows and
	// Outputs columns and is owned by the caller.
	Scores(x nn.Matrix) nn.Matrix
}

// Observer hears a learner's progress. Implementations must be cheap; they are
// called from the training loop.
type Observer interface {
	// Epoch reports one finished epoch (or, for iteration budgets, one pass of
	// the logging period) of the current task.
	Epoch(EpochStats)
}

// EpochStats is what a learner reports after each epoch.
type EpochStats struct {
	Epoch    int     // 1-based within the current task
	Part     string  // which part of the learner trained, e.g. "block 3"; empty for the whole
	Loss     float64 // mean training loss over the epoch
	TrainAcc float64 // training accuracy over the epoch, percent; NaN if not measured
	Seconds  float64 // wall time of the epoch
	Examples int     // examples processed
}

// ObserverFunc adapts a function to the Observer interface.
type ObserverFunc func(EpochStats)

// Epoch calls f.
func (f ObserverFunc) Epoch(s EpochStats) { f(s) }

// Problem is what a learner is built for: the input shape and the number of
// outputs, plus the seed from which all of its randomness derives.
type Problem struct {
	Input   tasks.Shape
	Outputs int
	Seed    uint64
	// Train returns the training data of the whole stream, for methods whose
	// construction looks at data (NoProp's prototype embeddings). It builds a
	// copy on each call, so methods that do not need it should not call it.
	// It may be nil; methods that need it return an error then.
	Train func() tasks.Set
}

// Method describes one learning rule for the catalog.
type Method struct {
	Name    string
	Summary string
	// Defaults returns the method's settings with their default values; the
	// result marshals to JSON and is the schema of the settings.
	Defaults func() any
	// Presets are named settings overlays, e.g. "paper" and "quick".
	Presets map[string]json.RawMessage
	// New builds a learner. settings is a JSON object whose fields override
	// the defaults; unknown fields are an error.
	New func(p Problem, settings json.RawMessage) (Learner, error)
	// Check validates settings without building a learner, so a batch fails
	// on a typo before any training starts. Optional.
	Check func(settings json.RawMessage) error
}
