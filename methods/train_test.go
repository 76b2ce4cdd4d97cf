package methods

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// toySet is n examples of one value each, labelled i % classes.
func toySet(n, classes int) tasks.Set {
	s := tasks.Set{Shape: tasks.Shape{C: 1, H: 1, W: 1}}
	for i := range n {
		s.X = append(s.X, float32(i))
		s.Y = append(s.Y, i%classes)
	}
	return s
}

func TestTrainerBudget(t *testing.T) {
	tests := []struct {
		name               string
		n, batch, ep, iter int
		wantRounds         []int
		wantLastBatch      int // size of the last minibatch of a full pass
	}{
		{"epochs", 10, 4, 2, 0, []int{3, 3}, 2},
		{"drop a last batch of one", 9, 4, 1, 0, []int{2}, 4},
		{"iterations in rounds of a pass", 10, 4, 0, 7, []int{3, 3, 1}, 2},
		{"iterations within one pass", 10, 4, 0, 2, []int{2}, 4},
		{"iterations win over epochs", 10, 4, 5, 4, []int{3, 1}, 2},
		{"batch larger than the data", 5, 8, 1, 0, []int{1}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTrainer(DefaultTraining(tc.batch, tc.ep, tc.iter), nn.NewRNG(1))
			if got := tr.Rounds(tr.Batches(tc.n)); !slices.Equal(got, tc.wantRounds) {
				t.Errorf("rounds %v, want %v", got, tc.wantRounds)
			}
			task, err := NewTaskData(toySet(tc.n, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			seen := map[float32]int{}
			var reports []EpochStats
			err = tr.Train(context.Background(), task, ObserverFunc(func(e EpochStats) { reports = append(reports, e) }),
				Part{Step: func(b Batch) (Step, error) {
					x, y := b.X, b.Y
					sizes = append(sizes, x.Rows)
					for i := range x.Rows {
						seen[x.Data[i]]++
						if int(x.Data[i])%2 != y[i] {
							t.Fatalf("row %v carries label %d", x.Data[i], y[i])
						}
					}
					return Step{Loss: float64(x.Rows), Correct: x.Rows}, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, r := range tc.wantRounds {
				total += r
			}
			if len(sizes) != total {
				t.Errorf("%d steps, want %d", len(sizes), total)
			}
			if len(reports) != len(tc.wantRounds) {
				t.Fatalf("%d reports, want one per round", len(reports))
			}
			if full := tr.Batches(tc.n); tc.wantRounds[0] == full && sizes[full-1] != tc.wantLastBatch {
				t.Errorf("last minibatch of a pass has %d examples, want %d", sizes[full-1], tc.wantLastBatch)
			}
			// Loss is per example: each step's loss (its size) weighted by
			// its size, over the examples of the pass.
			r := reports[0]
			num, den := 0.0, 0
			for _, s := range sizes[:tc.wantRounds[0]] {
				num += float64(s * s)
				den += s
			}
			if math.Abs(r.Loss-num/float64(den)) > 1e-12 || r.Examples != den || r.TrainAcc != 100 || r.Epoch != 1 {
				t.Errorf("first report %+v, want loss %v over %d examples", r, num/float64(den), den)
			}
		})
	}
}

func TestTrainerShufflesEveryPassFromItsStream(t *testing.T) {
	orders := func(seed uint64) [][]float32 {
		tr := NewTrainer(DefaultTraining(10, 2, 0), nn.NewRNG(seed))
		task, _ := NewTaskData(toySet(10, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
		var out [][]float32
		tr.Train(context.Background(), task, nil, Part{Step: func(b Batch) (Step, error) {
			out = append(out, slices.Clone(b.X.Data))
			return Step{Correct: -1}, nil
		}})
		return out
	}
	a, b, c := orders(1), orders(1), orders(2)
	if !slices.Equal(a[0], b[0]) || !slices.Equal(a[1], b[1]) {
		t.Error("the same stream gave different orders")
	}
	if slices.Equal(a[0], a[1]) {
		t.Error("the second pass has the first pass's order")
	}
	if slices.Equal(a[0], c[0]) {
		t.Error("another seed gave the same order")
	}
}

func TestTrainerGuards(t *testing.T) {
	task, _ := NewTaskData(toySet(40, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
	run := func(tr Training, step func(k int) Step) error {
		k := 0
		return NewTrainer(tr, nn.NewRNG(1)).Train(context.Background(), task, nil, Part{Name: "block 2", Step: func(Batch) (Step, error) {
			k++
			return step(k), nil
		}})
	}
	tests := []struct {
		name string
		tr   Training
		step func(k int) Step
		want error
		msg  string
	}{
		{"NaN", DefaultTraining(4, 1, 0), func(k int) Step { return Step{Loss: math.NaN()} }, ErrDiverged, "block 2, epoch 1: step 1: loss is NaN"},
		{"infinite", DefaultTraining(4, 1, 0), func(k int) Step { return Step{Loss: math.Inf(1)} }, ErrDiverged, "loss is +Inf"},
		// Adam carried a diverged run to a loss of 1.5e23, which is finite.
		{"exploding", DefaultTraining(4, 1, 0), func(k int) Step { return Step{Loss: 0.7 * math.Pow(1e6, float64(k-1))} }, ErrDiverged, "step 2: loss 7e+05 exceeds 10000 × max(1, first loss 0.7)"},
		{"large but steady", DefaultTraining(4, 1, 0), func(k int) Step { return Step{Loss: 5e3} }, nil, ""},
		{"collapse", DefaultTraining(4, 3, 0), func(k int) Step {
			if k <= 10 {
				return Step{Loss: 0.1, Correct: 4}
			}
			return Step{Loss: 0.7, Correct: 2}
		}, ErrCollapsed, "training accuracy 50.0% over the whole pass, chance is 50.0%, after 100.0%"},
		{"collapse check off", Training{BatchSize: 4, Epochs: 3, DivergenceFactor: 1e4}, func(k int) Step {
			return Step{Loss: 0.7, Correct: 4 * (1 - k/11)}
		}, nil, ""},
		{"never above chance is not a collapse", DefaultTraining(4, 3, 0), func(k int) Step { return Step{Loss: 0.7, Correct: 2} }, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.tr, tc.step)
			if tc.want == nil {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %v with %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestTrainerStopsOnCancel(t *testing.T) {
	task, _ := NewTaskData(toySet(40, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	steps := 0
	start := time.Now()
	err := NewTrainer(DefaultTraining(4, 0, 1e9), nn.NewRNG(1)).Train(ctx, task, nil, Part{Step: func(Batch) (Step, error) {
		steps++
		if steps == 5 {
			cancel()
		}
		return Step{Loss: 1}, nil
	}})
	if err != context.Canceled || steps != 5 || time.Since(start) > time.Second {
		t.Errorf("error %v after %d steps, want context.Canceled right after step 5", err, steps)
	}
}

func TestNewTaskRejects(t *testing.T) {
	shape := tasks.Shape{C: 1, H: 1, W: 1}
	good := toySet(4, 2)
	tests := []struct {
		name   string
		data   tasks.Set
		active []int
		want   string
	}{
		{"label not active", good, []int{0}, "example 1 has label 1, which is not an active output [0]"},
		{"active out of range", good, []int{0, 1, 2}, "active output 2 outside [0, 2)"},
		{"negative active", good, []int{-1, 0, 1}, "active output -1"},
		{"no active", good, nil, "no active outputs"},
		{"one example", toySet(1, 2), []int{0, 1}, "1 training examples, need at least 2"},
		{"wrong shape", tasks.Set{Shape: tasks.Shape{C: 1, H: 1, W: 2}, X: make([]float32, 4), Y: []int{0, 1}}, []int{0, 1}, "examples of shape 1x1x2"},
		{"short data", tasks.Set{Shape: shape, X: make([]float32, 3), Y: []int{0, 1, 0, 1}}, []int{0, 1}, "3 values for 4 examples"},
	}
	for _, tc := range tests {
		if _, err := NewTaskData(tc.data, tc.active, shape, 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	task, err := NewTaskData(good, []int{1, 0, 1}, shape, 2)
	if err != nil || !slices.Equal(task.Active, []int{0, 1}) || !task.Mask[0] || !task.Mask[1] {
		t.Errorf("task %+v, %v: want sorted active outputs without repeats", task, err)
	}
}

// stepCounter records the progress reports.
type stepCounter struct {
	ObserverFunc
	steps []Progress
}

func (s *stepCounter) Step(p Progress) { s.steps = append(s.steps, p) }

func TestTrainerReportsEveryStep(t *testing.T) {
	task, _ := NewTaskData(toySet(10, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
	for _, tr := range []Training{DefaultTraining(4, 2, 0), DefaultTraining(4, 0, 7)} {
		obs := &stepCounter{ObserverFunc: func(EpochStats) {}}
		part := Part{Step: func(Batch) (Step, error) { return Step{Loss: 1}, nil }}
		named := part
		named.Name = "block 2"
		if err := NewTrainer(tr, nn.NewRNG(1)).Train(context.Background(), task, obs, part, named); err != nil {
			t.Fatal(err)
		}
		perPart := tr.Iterations
		if perPart == 0 {
			perPart = tr.Epochs * 3
		}
		if len(obs.steps) != 2*perPart {
			t.Fatalf("%+v: %d step reports, want %d", tr, len(obs.steps), 2*perPart)
		}
		for i, p := range obs.steps {
			if p.Done != i+1 || p.Total != 2*perPart || p.Examples < 2 {
				t.Errorf("%+v: report %d is %+v", tr, i, p)
				break
			}
		}
		if last := obs.steps[len(obs.steps)-1]; last.Part != "block 2" {
			t.Errorf("last report %+v, want the second part", last)
		}
	}
}

// TestTrainerTerms: a part's named terms are averaged over each pass,
// weighted by the minibatch sizes as the loss is, and the sums of a pass
// cut by a checkpoint come back with the position.
func TestTrainerTerms(t *testing.T) {
	task, err := NewTaskData(toySet(10, 2), []int{0, 1}, tasks.Shape{C: 1, H: 1, W: 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var buf [2]float64
	part := func(stop *int) Part {
		return Part{Terms: []string{"size", "double"}, Step: func(b Batch) (Step, error) {
			if *stop == 0 {
				return Step{}, errors.New("stop here")
			}
			*stop--
			buf = [2]float64{float64(b.X.Rows), 2 * float64(b.X.Rows)}
			return Step{Loss: 1, Correct: 0, Terms: buf[:]}, nil
		}}
	}
	// Batches of 4, 4 and 2: the size averaged per example is
	// (4·4 + 4·4 + 2·2)/10 = 3.6.
	want := []Term{{"size", 3.6}, {"double", 7.2}}
	run := func(tr *Trainer, stop int) []EpochStats {
		var got []EpochStats
		tr.Train(context.Background(), task, ObserverFunc(func(e EpochStats) { got = append(got, e) }), part(&stop))
		return got
	}
	tr := NewTrainer(DefaultTraining(4, 1, 0), nn.NewRNG(1))
	whole := run(tr, 100)
	if len(whole) != 1 || !slices.Equal(whole[0].Terms, want) {
		t.Fatalf("terms %+v, want %+v", whole, want)
	}
	// Stopped after 2 steps, saved, restored into a fresh Trainer: the
	// pass ends with the same averages.
	cut := NewTrainer(DefaultTraining(4, 1, 0), nn.NewRNG(1))
	run(cut, 2)
	var saved bytes.Buffer
	w := nn.NewStateWriter(&saved)
	cut.VisitState(w, "trainer")
	if w.Err() != nil {
		t.Fatal(w.Err())
	}
	back := NewTrainer(DefaultTraining(4, 1, 0), nn.NewRNG(1))
	r := nn.NewStateReader(saved.Bytes())
	back.VisitState(r, "trainer")
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	if got := run(back, 100); len(got) != 1 || !slices.Equal(got[0].Terms, want) {
		t.Errorf("resumed: terms %+v, want %+v", got, want)
	}
	// A step that reports the wrong number of values is an error.
	bad := Part{Terms: []string{"a"}, Step: func(Batch) (Step, error) { return Step{Loss: 1}, nil }}
	if err := NewTrainer(DefaultTraining(4, 1, 0), nn.NewRNG(1)).Train(context.Background(), task, nil, bad); err == nil {
		t.Error("a step without its term values trained")
	}
}
