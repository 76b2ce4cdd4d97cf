package methods

import (
	"errors"
	"fmt"
	"math"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Training is the block of settings every rule has: the minibatch size, the
// budget per task and the divergence guard. Rules embed it in their settings.
type Training struct {
	BatchSize int `json:"batch_size" range:"[1,65536]" help:"examples per minibatch"`
	// Epochs and Iterations are the budget of one Learn call (one task).
	Epochs     int `json:"epochs" range:"[0,1000000]" help:"passes over a task's data (a rule trained part by part makes this many with each part); used when iterations is 0"`
	Iterations int `json:"iterations" range:"[0,1000000000]" help:"minibatch steps per task (per part), in passes over the reshuffled data, the last cut short; replaces epochs when positive"`
	// DivergenceFactor guards against exploding training: a minibatch loss
	// above DivergenceFactor·max(1, |first loss of that part|) is taken for
	// divergence, as is a NaN or infinite loss. Adam can carry a diverged
	// network to losses like 1e23 that are still finite; the run must fail,
	// not be stored at chance.
	DivergenceFactor float64 `json:"divergence_factor" range:"(1,)" identity:"runtime" help:"a loss above this factor × max(1, the part's first loss) stops training as diverged"`
	// CollapseCheck stops training when the training accuracy of a whole
	// pass falls back to chance after an earlier pass of the same task was
	// well above it (see ErrCollapsed).
	CollapseCheck bool `json:"collapse_check" identity:"runtime" help:"stop as collapsed when a pass's training accuracy falls to chance after being well above it, or (NoProp-CT and -FM) a learned class embedding collapses to a point"`
	// Precision is the arithmetic of the Linear and Conv2D products, in
	// training and scoring (nn.Precision): "fp32", or "bf16" (bfloat16
	// operands with float32 accumulation; weights, gradients and optimizer
	// state stay float32) on CPUs with the bf16 instructions, fp32 on
	// others. Products with an inner dimension under nn.BF16MinK stay fp32.
	Precision string `json:"precision" enum:"fp32|bf16" identity:"default" help:"matrix products: fp32, or bf16 operands with fp32 accumulation (where the CPU has AVX512_BF16; fp32 elsewhere)"`
}

// Products is the nn.Precision of Precision.
func (t Training) Products() nn.Precision {
	if t.Precision == PrecisionBF16 {
		return nn.BF16
	}
	return nn.FP32
}

// Precisions of Training.Precision.
const (
	PrecisionFP32 = "fp32"
	PrecisionBF16 = "bf16"
)

// DefaultTraining returns a Training with the given minibatch size and
// budget and the default guards.
func DefaultTraining(batch, epochs, iterations int) Training {
	return Training{BatchSize: batch, Epochs: epochs, Iterations: iterations, DivergenceFactor: 1e4, CollapseCheck: true, Precision: PrecisionFP32}
}

// CheckBlock requires a budget.
func (t Training) CheckBlock() error {
	if t.Epochs == 0 && t.Iterations == 0 {
		return &SettingError{Name: "epochs", Value: "0", Msg: "epochs and iterations are both 0: set one of them"}
	}
	return nil
}

// Optim is the block of optimizer settings.
type Optim struct {
	Optimizer   string  `json:"optimizer" enum:"adam|adamw|sgd" help:"update rule"`
	LR          float64 `json:"lr" range:"(0,)" help:"learning rate"`
	WeightDecay float64 `json:"weight_decay" range:"[0,)" help:"weight decay: decoupled for adamw, added to the gradient for adam and sgd"`
	Momentum    float64 `json:"momentum" range:"[0,1)" help:"heavy-ball momentum (sgd only)"`
}

// New builds the optimizer, with PyTorch's defaults for everything the
// block does not set (betas 0.9/0.999, eps 1e-8).
func (o Optim) New() (nn.Optimizer, error) {
	cfg := nn.DefaultOptimConfig(o.Optimizer)
	cfg.LR, cfg.WeightDecay, cfg.Momentum = float32(o.LR), float32(o.WeightDecay), float32(o.Momentum)
	opt, err := nn.NewOptimizer(o.Optimizer, cfg)
	if err != nil {
		return nil, fmt.Errorf("optimizer: %w", err)
	}
	return opt, nil
}

// TaskData is one Learn call's data, checked, with its active outputs.
type TaskData struct {
	Data   tasks.Set
	Active []int  // sorted, without repeats
	Mask   []bool // Mask[o] reports whether output o is active
	// RowMask is each example's own mask, outputs values a row (nil when
	// the data has no per-example active outputs, Set.Active): the
	// Trainer hands each minibatch its rows' part as Batch.Mask.
	RowMask []bool
}

// NewTaskData checks one Learn call's arguments for a learner built for input
// and outputs: the examples' shape and size, at least two examples (a
// minibatch has at least two, see Trainer), the active outputs within
// [0, outputs) and not empty, and every label active. When the data has
// per-example active outputs (Set.Active), each example's must be among the
// call's and hold its label; per-example weights (Set.Weight) must be finite
// and not negative, one per example.
func NewTaskData(data tasks.Set, active []int, input tasks.Shape, outputs int) (TaskData, error) {
	n := data.Len()
	if data.Shape.Size() != input.Size() {
		return TaskData{}, fmt.Errorf("examples of shape %v, learner built for %v", data.Shape, input)
	}
	if len(data.X) != n*input.Size() {
		return TaskData{}, fmt.Errorf("%d values for %d examples of size %d", len(data.X), n, input.Size())
	}
	if n < 2 {
		return TaskData{}, fmt.Errorf("%d training examples, need at least 2", n)
	}
	mask, act, err := ActiveMask(outputs, active)
	if err != nil {
		return TaskData{}, err
	}
	for i, y := range data.Y {
		if y < 0 || y >= outputs || !mask[y] {
			return TaskData{}, fmt.Errorf("example %d has label %d, which is not an active output %v", i, y, act)
		}
	}
	if err := checkWeights(data.Weight, n); err != nil {
		return TaskData{}, err
	}
	rows, err := rowMasks(data, mask, outputs)
	if err != nil {
		return TaskData{}, err
	}
	return TaskData{Data: data, Active: act, Mask: mask, RowMask: rows}, nil
}

// checkWeights accepts nil or n finite weights that are not negative.
func checkWeights(w []float32, n int) error {
	if w == nil {
		return nil
	}
	if len(w) != n {
		return fmt.Errorf("%d example weights for %d examples", len(w), n)
	}
	for i, v := range w {
		if !(v >= 0) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("example %d has weight %v, want a finite number ≥ 0", i, v)
		}
	}
	return nil
}

// rowMasks is the per-example masks of data.Active (nil when it is nil),
// each checked against the call's mask and its example's label.
func rowMasks(data tasks.Set, call []bool, outputs int) ([]bool, error) {
	if data.Active == nil {
		return nil, nil
	}
	n := data.Len()
	if len(data.Active) != n {
		return nil, fmt.Errorf("%d per-example active lists for %d examples", len(data.Active), n)
	}
	out := make([]bool, n*outputs)
	for i, act := range data.Active {
		row := out[i*outputs : (i+1)*outputs]
		for _, a := range act {
			if a < 0 || a >= outputs || !call[a] {
				return nil, fmt.Errorf("example %d has active output %d, which is not among the call's", i, a)
			}
			row[a] = true
		}
		if !row[data.Y[i]] {
			return nil, fmt.Errorf("example %d has label %d, which is not among its own active outputs %v", i, data.Y[i], act)
		}
	}
	return out, nil
}

// Batch is one minibatch as the Trainer hands it to a Part: the examples
// and, for a loss, each one's active outputs and weight.
type Batch struct {
	X nn.Matrix
	Y []int
	// Mask marks the active outputs: outputs values shared by every row
	// (the call's, TaskData.Mask) or rows·outputs, each row its own (see
	// nn.RowMask). Losses and softmaxes over the outputs take it as is.
	Mask []bool
	// Weight is each row's weight in the loss, nil when every row weighs
	// 1: a Part's loss is (1/rows) Σ w_i·l_i, and so are its gradients.
	Weight []float32
	// Outputs is the learner's number of outputs (0: len(Mask)).
	Outputs int
}

// RowActive appends row i's active outputs (the outputs its mask marks) to
// dst[:0] and returns it.
func (b Batch) RowActive(dst []int, i int) []int {
	dst = dst[:0]
	for j, on := range nn.RowMask(b.Mask, i, b.outputs()) {
		if on {
			dst = append(dst, j)
		}
	}
	return dst
}

// Weighted reports whether the rows have weights of their own.
func (b Batch) Weighted() bool { return b.Weight != nil }

// W is row i's weight: 1 when the rows have none.
func (b Batch) W(i int) float32 {
	if b.Weight == nil {
		return 1
	}
	return b.Weight[i]
}

// ScaleRows multiplies row i of m by the row's weight, when the rows have
// weights: a per-row gradient of a mean loss becomes the weighted mean's.
func (b Batch) ScaleRows(m nn.Matrix) {
	if b.Weight == nil {
		return
	}
	for i, w := range b.Weight {
		r := m.Row(i)
		for j := range r {
			r[j] *= w
		}
	}
}

// outputs is the number of outputs the mask covers.
func (b Batch) outputs() int {
	if b.Outputs > 0 {
		return b.Outputs
	}
	return len(b.Mask)
}

// ActiveMask turns a list of active outputs into a mask over outputs and the
// sorted list without repeats; it rejects outputs outside [0, outputs) and an
// empty list.
func ActiveMask(outputs int, active []int) ([]bool, []int, error) {
	mask := make([]bool, outputs)
	for _, a := range active {
		if a < 0 || a >= outputs {
			return nil, nil, fmt.Errorf("active output %d outside [0, %d)", a, outputs)
		}
		mask[a] = true
	}
	act := make([]int, 0, len(active))
	for j, on := range mask {
		if on {
			act = append(act, j)
		}
	}
	if len(act) == 0 {
		return nil, nil, errors.New("no active outputs")
	}
	return mask, act, nil
}

// ErrDiverged is wrapped by the error a training step returns when its loss
// is NaN, infinite or exploding.
var ErrDiverged = errors.New("training diverged")

// ErrCollapsed is wrapped by the error Train returns when the training
// accuracy of a whole pass is back at chance after an earlier pass of the
// same task was well above it ("above" is at least halfway from chance to
// 100 %, "at chance" within a tenth of that way). Public reimplementations
// of NoProp-CT saw exactly this on CIFAR-100. NoProp-CT and -FM also wrap
// it when a learned class embedding collapses to a point (see
// noprop.EmbedCollapseSpread).
var ErrCollapsed = errors.New("training collapsed to chance")

// Step is what one training step on a minibatch reports.
type Step struct {
	Loss float64 // mean loss over the minibatch
	// Correct is the number of the minibatch's examples the rule's training
	// prediction got right; negative when the rule does not measure it.
	Correct int
	// Terms are the values of the part's named terms on this minibatch
	// (Part.Terms: the parts of the loss, a schedule's state), one per
	// name, in that order; nil when the part names none. The slice may be
	// the rule's own buffer: the Trainer reads it before the next step.
	Terms []float64
}

// Part is one part of a learner trained by a pass over the data: the whole
// network, or one block of NoProp-DT.
type Part struct {
	// Name is reported as EpochStats.Part; empty for the whole learner.
	Name string
	// Step trains on one minibatch. The batch's slices are owned by the
	// Trainer and valid until the next step.
	Step func(b Batch) (Step, error)
	// Own and Rest, when both are set, are a step divided in two, and Step
	// is not used. Own(w, k, b) is step k's work on what no other part
	// touches (a NoProp-DT block's own update; w is the worker doing it,
	// 0 on the Trainer's goroutine), Rest(k, b) the rest of step k (what
	// the parts share, as NoProp-DT's head) and its report. The Trainer
	// calls Own then Rest, step by step; with Trainer.Ahead > 1 it also
	// runs the Own shares of the following parts of a round on goroutines
	// of their own while it trains the first, and their Rest shares after
	// it, in order, which gives what the parts in turn give, bit for bit.
	Own  func(w, k int, b Batch)
	Rest func(k int, b Batch) (Step, error)
	// Terms names what each step reports in Step.Terms. The Trainer
	// averages each over the pass, weighted by the minibatch sizes as the
	// loss is, into EpochStats.Terms.
	Terms []string
}
