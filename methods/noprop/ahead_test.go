package noprop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// saveAt is a CheckpointObserver that records every pass report and saves
// the learner at its k-th checkpoint offer, then cancels the Learn call.
type saveAt struct {
	k, offers int
	save      func()
	log       []string
}

func (s *saveAt) Epoch(st methods.EpochStats) {
	s.log = append(s.log, fmt.Sprintf("%s %d %v %v %v", st.Part, st.Epoch, st.Loss, st.TrainAcc, st.Terms))
}
func (s *saveAt) CheckpointDue() bool { s.offers++; return s.offers == s.k }
func (s *saveAt) Checkpoint() error   { s.save(); return nil }

// TestSequentialAhead checks that training consecutive blocks' passes at
// once in the sequential order (workers > 1, one-hot embeddings) gives what
// training them in turn gives, bit for bit: every pass's report and the
// scores, over two Learn calls with scoring between them; that a Learn call saved between two groups of passes and resumed,
// with another number of workers, ends there too; and that a cancelled
// call stops every worker.
func TestSequentialAhead(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	ds := blobs(t, 40)
	x := setMatrix(ds.Test)
	settings := func(w int) string {
		return fmt.Sprintf(`{"encoder":"mlp","epochs":2,"batch_size":16,"hidden":32,"timesteps":5,"workers":%d}`, w)
	}
	train := func(w int, obs methods.Observer) (*DTLearner, []string, error) {
		l := newTestLearner(t, ds, 4, settings(w))
		log := &saveAt{k: -1}
		if obs == nil {
			obs = log
		}
		// Two Learn calls with scoring between them, which leaves a set
		// of layer buffers at the last block.
		err := l.Learn(context.Background(), ds.Train, allOutputs(4), obs)
		if err == nil {
			l.Scores(x, nil)
			err = l.Learn(context.Background(), ds.Train, allOutputs(4), obs)
		}
		return l, log.log, err
	}
	want, wantLog, err := train(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.train.Ahead != 1 {
		t.Fatalf("workers 1: Ahead %d", want.train.Ahead)
	}
	wantScores := want.Scores(x, nil)
	for _, w := range []int{2, 3, 5, 8} {
		l, log, err := train(w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l.train.Ahead != w {
			t.Errorf("workers %d: Ahead %d", w, l.train.Ahead)
		}
		if !slices.Equal(log, wantLog) {
			t.Errorf("workers %d: pass reports\n%q\nwant\n%q", w, log, wantLog)
		}
		if !slices.Equal(l.Scores(x, nil).Data, wantScores.Data) {
			t.Errorf("workers %d: scores differ from the blocks trained in turn", w)
		}
	}

	// Saved at an offer between groups, resumed with one worker.
	once := newTestLearner(t, ds, 4, settings(1))
	if err := once.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
		t.Fatal(err)
	}
	onceScores := once.Scores(x, nil)
	for _, k := range []int{1, 3} {
		var saved []byte
		ctx, cancel := context.WithCancel(context.Background())
		b := newTestLearner(t, ds, 4, settings(2))
		obs := &saveAt{k: k}
		obs.save = func() {
			var buf bytes.Buffer
			b.VisitState(nn.NewStateWriter(&buf))
			saved = buf.Bytes()
			cancel()
		}
		if err := b.Learn(ctx, ds.Train, allOutputs(4), obs); !errors.Is(err, context.Canceled) || saved == nil {
			t.Fatalf("offer %d: saved %v, Learn: %v", k, saved != nil, err)
		}
		c := newTestLearner(t, ds, 4, settings(1))
		r := nn.NewStateReader(saved)
		c.VisitState(r)
		if err := r.Done(); err != nil {
			t.Fatal(err)
		}
		if err := c.Learn(context.Background(), ds.Train, allOutputs(4), nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Scores(x, nil).Data, onceScores.Data) {
			t.Errorf("saved at offer %d with 2 workers, resumed with 1: scores differ", k)
		}
	}

	// An observer that scores and probes the learner after every pass,
	// as a learning curve would, sees no worker at work and changes
	// nothing.
	curve := newTestLearner(t, ds, 4, settings(3))
	look := methods.ObserverFunc(func(methods.EpochStats) {
		curve.Scores(x, nil)
		curve.Probe(x, ds.Test.Y, allOutputs(4), 1)
	})
	if err := curve.Learn(context.Background(), ds.Train, allOutputs(4), look); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(curve.Scores(x, nil).Data, onceScores.Data) {
		t.Error("scored after every pass: the scores differ from the blocks trained in turn")
	}

	// Scoring leaves set 0 of the layer buffers at the last block, which a
	// worker would train while the first block takes the set: a Learn call
	// with workers puts it back first.
	parked := newTestLearner(t, ds, 4, settings(5))
	parked.Scores(x, nil) // before any Learn call: it does not know of workers yet
	if parked.sets[0].at == nil {
		t.Fatal("scoring left set 0 at no block; the check below means nothing")
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	parked.Learn(done, ds.Train, allOutputs(4), nil)
	if parked.sets[0].at != nil {
		t.Error("set 0 is at a block when the workers start")
	}

	// Cancelled inside a group: Learn returns, and no worker touches the
	// learner afterwards (the race detector sees it if one does).
	ctx, cancel := context.WithCancel(context.Background())
	l := newTestLearner(t, ds, 4, settings(3))
	obs := &cancelAt{k: 10, cancel: cancel}
	if err := l.Learn(ctx, ds.Train, allOutputs(4), obs); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled inside a group: %v", err)
	}
	l.Scores(x, nil)
}

// cancelAt cancels a Learn call at its k-th step.
type cancelAt struct {
	k, steps int
	cancel   func()
}

func (c *cancelAt) Epoch(methods.EpochStats) {}
func (c *cancelAt) Step(methods.Progress) {
	if c.steps++; c.steps == c.k {
		c.cancel()
	}
}
