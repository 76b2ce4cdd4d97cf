package noprop

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
)

// termsOf runs l on blobs and returns its log.
func termsOf(t *testing.T, l methods.Learner) []methods.EpochStats {
	t.Helper()
	ds := blobs(t, 60)
	var log []methods.EpochStats
	if err := l.Learn(context.Background(), ds.Train, allOutputs(4), methods.ObserverFunc(func(s methods.EpochStats) { log = append(log, s) })); err != nil {
		t.Fatal(err)
	}
	return log
}

func termMap(e methods.EpochStats) map[string]float64 {
	m := map[string]float64{}
	for _, tm := range e.Terms {
		m[tm.Name] = tm.Value
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(a), math.Abs(b)) }

// TestLossTerms: every NoProp rule reports what its loss is made of, and
// the terms that enter it add up to the loss of each pass (Eq. 8 for DT:
// L2 + CE + KL; Eq. 9 for CT; Eq. 13 with η for FM: η·flow + CE).
func TestLossTerms(t *testing.T) {
	ds := blobs(t, 60)
	const mlp = `"encoder":"mlp","batch_size":16,"epochs":2,"hidden":16`
	for _, tc := range []struct {
		name  string
		l     methods.Learner
		terms []string // the names whose sum is the loss
		names []string
	}{
		{"dt sequential", newTestLearner(t, ds, 1, `{`+mlp+`,"timesteps":3,"embedding":"learned","embed_dim":5}`), []string{"l2", "ce", "kl"}, DTTerms},
		{"dt parallel", newTestLearner(t, ds, 1, `{`+mlp+`,"timesteps":3,"train_order":"parallel"}`), []string{"l2", "ce", "kl"}, DTTerms},
		{"ct", newTestCT(t, ds, 1, `{`+mlp+`,"schedule_hidden":8,"timesteps":10,"embedding":"learned","embed_dim":5}`), []string{"l2", "ce", "kl"}, CTTerms},
		{"fm", newTestFM(t, ds, 1, `{`+mlp+`,"timesteps":10,"embedding":"learned","embed_dim":5,"eta":0.3}`), []string{"flow", "ce"}, FMTerms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := termsOf(t, tc.l)
			for _, e := range log {
				if len(e.Terms) != len(tc.names) {
					t.Fatalf("%s epoch %d: terms %+v, want %v", e.Part, e.Epoch, e.Terms, tc.names)
				}
				m := termMap(e)
				sum := 0.0
				for _, n := range tc.terms {
					sum += m[n]
				}
				if !near(sum, e.Loss) {
					t.Errorf("%s epoch %d: %v add up to %v, the loss is %v", e.Part, e.Epoch, tc.terms, sum, e.Loss)
				}
				for _, n := range tc.names {
					if math.IsNaN(m[n]) || math.IsInf(m[n], 0) {
						t.Errorf("%s epoch %d: term %s = %v", e.Part, e.Epoch, n, m[n])
					}
				}
			}
		})
	}
}

// TestCTScheduleTerms: the schedule's state in the log is the schedule's
// own: frozen, its end points and SNR(t) = exp(−γ(t)) at both ends; and
// the unweighted mse is the weighted term's raw size (positive, and at
// most 2 for a convex combination of one-hot rows).
func TestCTScheduleTerms(t *testing.T) {
	ds := blobs(t, 60)
	l := newTestCT(t, ds, 1, `{"encoder":"mlp","batch_size":16,"epochs":1,"hidden":16,"schedule_hidden":8,"timesteps":10,"schedule_lr":0,"gamma0":-3,"gamma1":2}`)
	m := termMap(termsOf(t, l)[0])
	for name, want := range map[string]float64{"gamma0": -3, "gamma1": 2, "snr0": math.Exp(-2), "snr1": math.Exp(3)} {
		if !near(m[name], want) {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if !(m["mse"] > 0 && m["mse"] <= 2) {
		t.Errorf("mse = %v, want in (0, 2]", m["mse"])
	}
	if !near(m["embed_spread"], math.Sqrt(0.75)) { // one-hot rows of 4 classes: √(1 − 1/4)
		t.Errorf("embed_spread of the one-hot embedding = %v, want √0.75", m["embed_spread"])
	}
}

// TestScheduleWarmup: the schedule stays at its initial end points for the
// first schedule_warmup epochs of a task and learns after them.
func TestScheduleWarmup(t *testing.T) {
	ds := blobs(t, 60)
	l := newTestCT(t, ds, 1, `{"encoder":"mlp","batch_size":16,"epochs":3,"hidden":16,"schedule_hidden":8,"timesteps":10,"schedule_warmup":2,"schedule_lr":0.01}`)
	log := termsOf(t, l)
	for _, e := range log {
		m := termMap(e)
		frozen := m["gamma0"] == -4 && m["gamma1"] == 4
		if frozen != (e.Epoch <= 2) {
			t.Errorf("epoch %d: γ_0 %v, γ_1 %v; want the initial ±4 through epoch 2 only", e.Epoch, m["gamma0"], m["gamma1"])
		}
	}
}

// TestEmbedInitScale: a learned embedding starts at embed_init_scale times
// its default rows.
func TestEmbedInitScale(t *testing.T) {
	ds := blobs(t, 10)
	const s = `{"encoder":"mlp","hidden":8,"schedule_hidden":4,"embedding":"learned","embed_dim":5%s}`
	one := newTestCT(t, ds, 3, fmt.Sprintf(s, ""))
	three := newTestCT(t, ds, 3, fmt.Sprintf(s, `,"embed_init_scale":3`))
	for i, v := range one.embed.W.Value {
		if three.embed.W.Value[i] != 3*v {
			t.Fatalf("value %d: %v at scale 3, %v at 1", i, three.embed.W.Value[i], v)
		}
	}
}

// TestScheduleCollapseGuard: a schedule whose span has shrunk below
// ScheduleCollapseSpan of its initial one while the head is at chance stops
// the run as collapsed; a narrow schedule that was set that way from the
// start does not, nor one whose head has learned, nor any with the guard
// off.
func TestScheduleCollapseGuard(t *testing.T) {
	ds := blobs(t, 60)
	const s = `{"encoder":"mlp","batch_size":16,"epochs":1,"hidden":16,"schedule_hidden":8,"timesteps":10%s}`
	shrink := func(l *CTLearner) {
		l.sched.Gamma.Value[0], l.sched.Gamma.Value[1] = 3.9, 4 // SNR(1) − SNR(0) tiny against e^4 − e^−4
		clear(l.head.Params()[0].Value)                         // a head at chance
	}
	for _, tc := range []struct {
		name     string
		settings string
		spoil    bool
		want     bool
	}{
		{"collapsed", "", true, true},
		{"guard off", `,"collapse_check":false`, true, false},
		{"narrow from the start", `,"gamma0":3.9,"gamma1":4`, false, false},
		{"healthy", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newTestCT(t, ds, 1, fmt.Sprintf(s, tc.settings))
			if tc.spoil {
				shrink(l)
			}
			err := l.Learn(context.Background(), ds.Train, allOutputs(4), nil)
			if got := errors.Is(err, methods.ErrCollapsed); got != tc.want {
				t.Fatalf("Learn: %v; want collapsed %v", err, tc.want)
			}
			if tc.want && !strings.Contains(err.Error(), "schedule_warmup") {
				t.Errorf("the message does not say what to do: %v", err)
			}
		})
	}
}
