package nn

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// stateOf is a small learner-like state: a layer with BatchNorm and
// dropout, an optimizer and a generator.
type stateOf struct {
	net *Sequential
	opt Optimizer
	rng *RNG
	k   int
}

func newStateOf(seed uint64, opt string) *stateOf {
	rng := NewRNG(seed)
	net := &Sequential{Layers: []Layer{NewLinear(4, 6, InitPyTorch, rng), NewBatchNorm1D(6), NewDropout(0.3, rng.Split("d")), NewLinear(6, 2, InitPyTorch, rng)}}
	cfg := DefaultOptimConfig(opt)
	cfg.Momentum = 0.9 * float32(btoi(opt == "sgd"))
	o, _ := NewOptimizer(opt, cfg)
	return &stateOf{net: net, opt: o, rng: rng.Split("x")}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *stateOf) visit(v StateVisitor) {
	VisitLayerState(v, "net", s.net)
	VisitOptimizer(v, "opt", s.opt, s.net.Params())
	s.rng.VisitState(v, "rng")
	v.Int("k", &s.k)
}

// step trains one step on random data from the state's own generator.
func (s *stateOf) step() {
	x := NewMatrix(8, 4)
	s.rng.FillNormal(x.Data, 1)
	y := s.net.Forward(x, true)
	dy := NewMatrix(y.Rows, y.Cols)
	copy(dy.Data, y.Data)
	s.net.Backward(dy)
	s.opt.Step(s.net.Params())
	s.k++
}

func TestStateSavesAndRestoresEverything(t *testing.T) {
	for _, opt := range []string{"adam", "adamw", "sgd"} {
		a, b := newStateOf(1, opt), newStateOf(1, opt)
		for range 5 {
			a.step()
			b.step()
		}
		var buf bytes.Buffer
		w := NewStateWriter(&buf)
		b.visit(w)
		// c starts from another seed: everything must come from the state.
		c := newStateOf(99, opt)
		r := NewStateReader(buf.Bytes())
		c.visit(r)
		if err := r.Done(); err != nil {
			t.Fatalf("%s: %v", opt, err)
		}
		for range 5 {
			a.step()
			c.step()
		}
		for i, p := range a.net.Params() {
			if !slices.Equal(p.Value, c.net.Params()[i].Value) {
				t.Errorf("%s: parameter %d differs after restoring and training on", opt, i)
			}
		}
		bnA, bnC := a.net.Layers[1].(*BatchNorm1D), c.net.Layers[1].(*BatchNorm1D)
		if !slices.Equal(bnA.RunningVar, bnC.RunningVar) || a.k != c.k {
			t.Errorf("%s: running statistics or counters differ", opt)
		}
	}
}

func TestStateReaderRefusesWhatDoesNotFit(t *testing.T) {
	var buf bytes.Buffer
	a := newStateOf(1, "adam")
	a.visit(NewStateWriter(&buf))
	saved := buf.Bytes()
	tests := []struct {
		name  string
		state []byte
		into  *stateOf
	}{
		{"truncated", saved[:len(saved)-5], newStateOf(1, "adam")},
		{"trailing bytes", append(slices.Clone(saved), 1, 2), newStateOf(1, "adam")},
		{"not a state", []byte("hello world"), newStateOf(1, "adam")},
		{"another optimizer", saved, newStateOf(1, "sgd")},
	}
	for _, tc := range tests {
		r := NewStateReader(tc.state)
		tc.into.visit(r)
		if err := r.Done(); !errors.Is(err, ErrStateMismatch) {
			t.Errorf("%s: %v, want ErrStateMismatch", tc.name, err)
		}
	}
	// A layer of another size.
	other := &stateOf{net: &Sequential{Layers: []Layer{NewLinear(4, 7, InitPyTorch, NewRNG(1))}}, opt: &Adam{}, rng: NewRNG(1)}
	r := NewStateReader(saved)
	other.visit(r)
	if err := r.Done(); !errors.Is(err, ErrStateMismatch) {
		t.Errorf("another layer size: %v", err)
	}
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct{ n int }

func (f *failingWriter) Write(b []byte) (int, error) {
	if len(b) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("disk full")
	}
	f.n -= len(b)
	return len(b), nil
}

// A state larger than the writer's scratch buffer is written in pieces and
// reads back whole; a write error is kept and reported.
func TestStateWriterStreams(t *testing.T) {
	big := make([]float32, 3*stateChunk/4+5)
	ints := make([]int, stateChunk/8+3)
	for i := range big {
		big[i] = float32(i) * 0.5
	}
	for i := range ints {
		ints[i] = -i
	}
	var buf bytes.Buffer
	w := NewStateWriter(&buf)
	w.Floats("big", big)
	w.Ints("ints", ints)
	if w.Err() != nil {
		t.Fatal(w.Err())
	}
	gotF, gotI := make([]float32, len(big)), make([]int, len(ints))
	r := NewStateReader(buf.Bytes())
	r.Floats("big", gotF)
	r.Ints("ints", gotI)
	if err := r.Done(); err != nil || !slices.Equal(gotF, big) || !slices.Equal(gotI, ints) {
		t.Fatalf("round trip of records larger than the scratch buffer: err %v, floats equal %v, ints equal %v",
			err, slices.Equal(gotF, big), slices.Equal(gotI, ints))
	}
	fw := NewStateWriter(&failingWriter{n: 1000})
	fw.Floats("big", big)
	fw.Int("after", new(int))
	if fw.Err() == nil || !strings.Contains(fw.Err().Error(), "disk full") {
		t.Errorf("a failing writer: Err() = %v, want the write error", fw.Err())
	}
}
