// Package methodtest is the conformance suite of the learner seam, as
// testing/fstest is for file systems: Test checks that a method behaves the
// way the harness relies on, for its defaults and every preset. A new rule
// gets it by being in the catalog (methods/catalog's test runs it on every
// entry).
//
// It imports methods, methods/nn and tasks, and the standard testing
// package; nothing of harness or results.
package methodtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// Toy is the problem every configuration is tried on: four classes of
// Gaussian blobs on 1×14×14 images (the smallest the conv stacks take),
// separable by any rule that learns at all.
func Toy() (tasks.Dataset, error) {
	return tasks.Synthetic(tasks.SyntheticConfig{
		Classes: 4, TrainPer: 64, TestPer: 32, Shape: tasks.Shape{C: 1, H: 14, W: 14}, Noise: 0.3, Seed: 42,
	})
}

// MinToyAccuracy is the test accuracy (percent) on the toy problem below
// which a configuration is taken not to learn: chance is 25 %.
const MinToyAccuracy = 80

// Test runs the whole suite on method m:
//   - its settings: a pointer to a struct with a documented, valid default;
//     the shared Training block (budget keys every rule understands); every
//     preset valid; Check and New agree on good and broken settings;
//   - for the defaults and every preset, each with m.Toy on top: the score
//     shape; the same seed gives identical scores; labels outside the
//     active outputs and active outputs out of range are rejected;
//     cancellation stops Learn promptly; m.Stochastic matches the learner;
//     the toy problem is learned well above chance; and per-example active
//     outputs and weights are honoured (checkPerExample).
func Test(t *testing.T, m methods.Method) {
	t.Helper()
	t.Run("settings", func(t *testing.T) { testSettings(t, m) })
	ds, err := Toy()
	if err != nil {
		t.Fatal(err)
	}
	configs := []string{""}
	configs = append(configs, m.PresetNames()...)
	for _, preset := range configs {
		name := "defaults"
		if preset != "" {
			name = "preset " + preset
		}
		t.Run(name, func(t *testing.T) {
			settings, err := m.Resolve(preset, m.Toy)
			if err != nil {
				t.Fatalf("settings with the toy overlay: %v", err)
			}
			testLearner(t, m, ds, settings)
		})
	}
	t.Run("precision bf16", func(t *testing.T) { testPrecision(t, m, ds) })
}

func testSettings(t *testing.T, m methods.Method) {
	if m.Name == "" || m.Summary == "" || m.Settings == nil || m.New == nil {
		t.Fatal("a method needs a name, a summary, Settings and New")
	}
	s := m.Settings()
	if v := reflect.ValueOf(s); v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("Settings returns %T, want a pointer to a struct", s)
	}
	if reflect.ValueOf(m.Settings()).Pointer() == reflect.ValueOf(s).Pointer() {
		t.Error("Settings returns the same value twice: it must be a new one each call")
	}
	if err := m.Check(nil); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
	fields := m.Fields()
	names := map[string]bool{}
	for _, f := range fields {
		if f.Help == "" {
			t.Errorf("setting %s has no help tag", f.Name)
		}
		if names[f.Name] {
			t.Errorf("setting %s is declared twice", f.Name)
		}
		names[f.Name] = true
	}
	for _, k := range []string{"batch_size", "epochs", "iterations"} {
		if !names[k] {
			t.Errorf("no setting %s: embed methods.Training", k)
		}
	}
	for _, p := range m.PresetNames() {
		if err := m.Check(m.Presets[p]); err != nil {
			t.Errorf("preset %s does not validate: %v", p, err)
		}
	}
	if m.Toy == nil {
		t.Error("no Toy overlay: the suite needs one to stay quick")
	} else if err := m.Check(m.Toy); err != nil {
		t.Errorf("the Toy overlay does not validate: %v", err)
	}
	// Check and New agree: on a broken value of every constrained setting,
	// on an unknown setting, and on the defaults.
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 14, W: 14}, Outputs: 4, Seed: 1}
	cases := brokenSettings(fields)
	cases = append(cases, `{"no_such_setting_anywhere":1}`, string(m.Toy))
	for _, raw := range cases {
		checkErr := m.Check(json.RawMessage(raw))
		_, newErr := m.New(p, json.RawMessage(raw))
		if (checkErr == nil) != (newErr == nil) {
			t.Errorf("settings %s: Check says %v, New says %v", raw, checkErr, newErr)
		}
		if checkErr != nil && strings.Contains(checkErr.Error(), "json:") {
			t.Errorf("settings %s: message %q is decoder text, not the project's words", raw, checkErr)
		}
	}
}

// brokenSettings returns, for every setting with an enum or a bounded
// range, a JSON object setting it to a value outside.
func brokenSettings(fields []methods.Field) []string {
	var out []string
	for _, f := range fields {
		switch {
		case strings.Contains(f.Allowed, ", ") && f.Type == "string":
			out = append(out, fmt.Sprintf(`{%q:"no-such-value"}`, f.Name))
		case strings.HasPrefix(f.Allowed, "at least "), strings.HasPrefix(f.Allowed, "≥ "), strings.HasPrefix(f.Allowed, "> "):
			lo, err := strconv.ParseFloat(strings.Fields(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(f.Allowed, "at least "), "≥ "), "> "))[0], 64)
			if err != nil {
				continue
			}
			v := lo - 1
			if f.Type == "[int]" {
				out = append(out, fmt.Sprintf(`{%q:[%v]}`, f.Name, v))
				continue
			}
			out = append(out, fmt.Sprintf(`{%q:%v}`, f.Name, v))
		case strings.HasPrefix(f.Allowed, "in "):
			out = append(out, fmt.Sprintf(`{%q:1e9}`, f.Name))
		}
	}
	return out
}

// toy is one learner's conformance run: the method, its settings and the
// toy problem.
type toy struct {
	m        methods.Method
	ds       tasks.Dataset
	settings json.RawMessage
	p        methods.Problem
	x        nn.Matrix // the test images
}

// toyOutputs are the toy problem's outputs, all active.
var toyOutputs = []int{0, 1, 2, 3}

func (c toy) build(t *testing.T) methods.Learner {
	t.Helper()
	l, err := c.m.New(c.p, c.settings)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return l
}

func testLearner(t *testing.T, m methods.Method, ds tasks.Dataset, settings json.RawMessage) {
	c := toy{m: m, ds: ds, settings: settings, p: methods.Problem{Input: ds.Train.Shape, Outputs: ds.NumClasses, Seed: 7},
		x: nn.Matrix{Rows: ds.Test.Len(), Cols: ds.Test.Shape.Size(), Data: ds.Test.X}}
	l := c.build(t)
	c.checkUntrained(t, l)
	scores := c.checkLearns(t, l)
	c.checkDeterministic(t, l, scores)
	testCheckpoint(t, func() methods.Learner { return c.build(t) }, ds, c.x)
	c.checkCancellation(t)
	c.checkPerExample(t)
}

// checkUntrained: Stochastic matches the learner, the untrained learner
// scores, and bad input to Learn is rejected.
func (c toy) checkUntrained(t *testing.T, l methods.Learner) {
	if _, stochastic := l.(methods.Stochastic); stochastic != c.m.Stochastic {
		t.Errorf("Method.Stochastic is %v but the learner implements methods.Stochastic: %v", c.m.Stochastic, stochastic)
	}
	if pc, ok := l.(methods.ParamCounter); ok && pc.NumParams() <= 0 {
		t.Errorf("NumParams = %d", pc.NumParams())
	}
	checkScores(t, "untrained", l.Scores(c.x, toyOutputs), c.x.Rows, c.p.Outputs, toyOutputs)
	bad := c.ds.Train
	if err := l.Learn(context.Background(), bad, []int{0, 1}, nil); err == nil {
		t.Error("Learn accepted labels 2 and 3 with only outputs 0 and 1 active")
	}
	if err := l.Learn(context.Background(), bad, []int{0, 1, 2, 3, 4}, nil); err == nil {
		t.Error("Learn accepted active output 4 of 4")
	}
	if err := l.Learn(context.Background(), bad, nil, nil); err == nil {
		t.Error("Learn accepted no active outputs")
	}
}

// setSeed sets a stochastic learner's inference seed.
func setSeed(l methods.Learner, seed uint64) {
	if st, ok := l.(methods.Stochastic); ok {
		st.SetInferenceSeed(seed)
	}
}

// checkLearns: the learner learns the toy problem, reports per-pass
// statistics, and scores only the active outputs. It returns the trained
// learner's scores at inference seed 3.
func (c toy) checkLearns(t *testing.T, l methods.Learner) nn.Matrix {
	var reports []methods.EpochStats
	obs := methods.ObserverFunc(func(e methods.EpochStats) { reports = append(reports, e) })
	if err := l.Learn(context.Background(), c.ds.Train, toyOutputs, obs); err != nil {
		t.Fatalf("Learn: %v", err)
	}
	if len(reports) == 0 {
		t.Error("Learn reported no pass to its observer")
	}
	for _, r := range reports {
		if r.Examples <= 0 || math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			t.Errorf("report %+v", r)
			break
		}
	}
	setSeed(l, 3)
	scores := l.Scores(c.x, toyOutputs)
	checkScores(t, "trained", scores, c.x.Rows, c.p.Outputs, toyOutputs)
	if acc := accuracy(scores, c.ds.Test.Y, toyOutputs); acc < MinToyAccuracy {
		t.Errorf("test accuracy on the toy problem %.1f%% after Learn, want ≥ %d%% (chance 25%%)", acc, MinToyAccuracy)
	}
	pair := []int{1, 3} // two active outputs: scores compare only those
	checkScores(t, "two active outputs", l.Scores(c.x, pair), c.x.Rows, c.p.Outputs, pair)
	return scores
}

// checkDeterministic: the same seed gives identical scores, also when the
// learner is scored (and probed, for a methods.Prober) after every pass (a
// learning curve): scoring changes nothing that training uses; and scoring
// again with a seed repeats.
func (c toy) checkDeterministic(t *testing.T, l methods.Learner, scores nn.Matrix) {
	l2 := c.build(t)
	curve := methods.ObserverFunc(func(methods.EpochStats) {
		setSeed(l2, 11)
		l2.Scores(c.x, []int{1, 3})
		if p, ok := l2.(methods.Prober); ok {
			p.Probe(c.x, c.ds.Test.Y, []int{1, 3}, 5)
		}
	})
	if err := l2.Learn(context.Background(), c.ds.Train, toyOutputs, curve); err != nil {
		t.Fatalf("second Learn: %v", err)
	}
	setSeed(l2, 3)
	if again := l2.Scores(c.x, toyOutputs); !slices.Equal(again.Data, scores.Data) {
		t.Error("the same seed and data gave different scores (the second learner was scored after every pass)")
	}
	if _, ok := l.(methods.Stochastic); ok {
		setSeed(l, 3)
		if again := l.Scores(c.x, toyOutputs); !slices.Equal(again.Data, scores.Data) {
			t.Error("Scores with the same inference seed changed")
		}
	}
	if ms, ok := l.(methods.MultiScorer); ok {
		checkMultiScorer(t, l, ms, c.x)
	}
	if p, ok := l.(methods.Prober); ok {
		c.checkProber(t, l, p, scores)
	}
}

// checkProber: Probe gives one score matrix per stage, the same for the
// same seed, changes nothing Scores gives, and its last stage (the head)
// has learned the toy problem.
func (c toy) checkProber(t *testing.T, l methods.Learner, p methods.Prober, scores nn.Matrix) {
	stages := p.Stages()
	probe := func() []nn.Matrix { return p.Probe(c.x, c.ds.Test.Y, toyOutputs, 7) }
	first := probe()
	if len(first) != len(stages) || len(stages) == 0 {
		t.Fatalf("Probe gave %d score matrices for stages %q", len(first), stages)
	}
	for i, s := range first {
		checkScores(t, "probe stage "+stages[i], s, c.x.Rows, c.p.Outputs, toyOutputs)
	}
	for i, s := range probe() {
		if !slices.Equal(s.Data, first[i].Data) {
			t.Errorf("Probe with the same seed gave other scores at stage %s", stages[i])
		}
	}
	setSeed(l, 3)
	if again := l.Scores(c.x, toyOutputs); !slices.Equal(again.Data, scores.Data) {
		t.Error("Scores changed after Probe")
	}
	if acc := accuracy(first[len(first)-1], c.ds.Test.Y, toyOutputs); acc < MinToyAccuracy {
		t.Errorf("probe stage %s: accuracy %.1f%%, want ≥ %d%%", stages[len(stages)-1], acc, MinToyAccuracy)
	}
}

// checkMultiScorer: ScoresRuns gives, for every seed, what Scores gives
// after SetInferenceSeed with it, bit for bit, and leaves Scores as it was.
func checkMultiScorer(t *testing.T, l methods.Learner, ms methods.MultiScorer, x nn.Matrix) {
	seeds := []uint64{3, 11, 3}
	// Other rows scored just before: what ScoresRuns shares must be made
	// for its own rows, not left from an earlier call.
	l.Scores(reversed(x), toyOutputs)
	runs := ms.ScoresRuns(x, toyOutputs, seeds)
	if len(runs) != len(seeds) {
		t.Fatalf("ScoresRuns gave %d score matrices for %d seeds", len(runs), len(seeds))
	}
	for k, seed := range seeds {
		setSeed(l, seed)
		if want := l.Scores(x, toyOutputs); !slices.Equal(runs[k].Data, want.Data) {
			t.Errorf("ScoresRuns for seed %d (run %d) differs from Scores with that seed", seed, k)
		}
	}
	if !slices.Equal(runs[0].Data, runs[2].Data) {
		t.Error("ScoresRuns gave different scores for the same seed twice")
	}
}

// checkCancellation: Learn stops on a context cancelled before it starts
// and, within a short time, on one cancelled while it runs a long budget.
func (c toy) checkCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.build(t).Learn(ctx, c.ds.Train, toyOutputs, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Learn on a cancelled context: %v, want context.Canceled", err)
	}
	long, err := methods.MergeSettings(c.settings, json.RawMessage(`{"iterations":1000000}`))
	if err != nil {
		t.Fatal(err)
	}
	ll, err := c.m.New(c.p, long)
	if err != nil {
		t.Fatalf("New with a long budget: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = ll.Learn(ctx, c.ds.Train, toyOutputs, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Learn with a million steps and a 200 ms deadline: %v", err)
	}
	// A million steps take hours; the bound is loose so that a machine
	// busy with other work does not fail a learner that stops in time.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Learn took %v to notice its cancelled context", d)
	}
}

// checkpointAt saves the learner at the k-th checkpoint offer of a Learn
// call, then cancels it, as a killed process would stop.
type checkpointAt struct {
	k, offers int
	save      func()
}

func (c *checkpointAt) Epoch(methods.EpochStats) {}
func (c *checkpointAt) CheckpointDue() bool {
	c.offers++
	return c.offers == c.k
}
func (c *checkpointAt) Checkpoint() error { c.save(); return nil }

// testCheckpoint trains one learner without a stop, and another that is
// saved in the middle of a pass and stopped; a third, restored from the
// save, finishes the Learn call: its scores must equal the first's, bit for
// bit.
func testCheckpoint(t *testing.T, build func() methods.Learner, ds tasks.Dataset, x nn.Matrix) {
	t.Helper()
	toyOutputs := []int{0, 1, 2, 3}
	a := build()
	if _, ok := a.(methods.Checkpointer); !ok {
		t.Error("the learner does not implement methods.Checkpointer: runs of it cannot resume from a checkpoint")
		return
	}
	if err := a.Learn(context.Background(), ds.Train, toyOutputs, nil); err != nil {
		t.Fatalf("Learn: %v", err)
	}
	b := build()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var saved []byte
	obs := &checkpointAt{k: 7, save: func() {
		var buf bytes.Buffer
		w := nn.NewStateWriter(&buf)
		b.(methods.Checkpointer).VisitState(w)
		saved = buf.Bytes()
		cancel()
	}}
	if err := b.Learn(ctx, ds.Train, toyOutputs, obs); !errors.Is(err, context.Canceled) || saved == nil {
		t.Fatalf("a Learn call saved at its 7th checkpoint offer and cancelled: %v (saved: %v)", err, saved != nil)
	}
	c := build()
	r := nn.NewStateReader(saved)
	c.(methods.Checkpointer).VisitState(r)
	if err := r.Done(); err != nil {
		t.Fatalf("restoring the saved state into a fresh learner: %v", err)
	}
	if err := c.Learn(context.Background(), ds.Train, toyOutputs, nil); err != nil {
		t.Fatalf("Learn after the restore: %v", err)
	}
	for _, l := range []methods.Learner{a, c} {
		if st, ok := l.(methods.Stochastic); ok {
			st.SetInferenceSeed(5)
		}
	}
	if !slices.Equal(a.Scores(x, toyOutputs).Data, c.Scores(x, toyOutputs).Data) {
		t.Error("a Learn call resumed from a checkpoint gave other scores than one never stopped")
	}
	// A state does not restore into a learner of another shape.
	other := nn.NewStateReader(append(slices.Clone(saved), 0))
	build().(methods.Checkpointer).VisitState(other)
	if other.Done() == nil {
		t.Error("a state with a byte too many was restored without complaint")
	}
}

// checkScores checks the shape of scores and that the active outputs' are
// finite (the others are unspecified).
func checkScores(t *testing.T, what string, s nn.Matrix, rows, outputs int, active []int) {
	t.Helper()
	if s.Rows != rows || s.Cols != outputs || len(s.Data) != rows*outputs {
		t.Fatalf("%s: scores %d×%d (%d values), want %d×%d", what, s.Rows, s.Cols, len(s.Data), rows, outputs)
	}
	for i := range s.Rows {
		for _, o := range active {
			if v := float64(s.Row(i)[o]); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s: score of row %d, active output %d is %v", what, i, o, v)
			}
		}
	}
}

func accuracy(s nn.Matrix, y []int, active []int) float64 {
	correct := 0
	for i, label := range y {
		row := s.Row(i)
		best := active[0]
		for _, o := range active[1:] {
			if row[o] > row[best] {
				best = o
			}
		}
		if best == label {
			correct++
		}
	}
	return 100 * float64(correct) / float64(len(y))
}

// reversed is x with its rows in reverse order.
func reversed(x nn.Matrix) nn.Matrix {
	out := nn.NewMatrix(x.Rows, x.Cols)
	for i := range x.Rows {
		copy(out.Row(x.Rows-1-i), x.Row(i))
	}
	return out
}
