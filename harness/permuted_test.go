package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

// permutedSweep is a sweep of the fake rule on the synthetic dataset's
// permuted and split streams, over the defaults, with construction p.
func permutedSweep(p string) Sweep {
	sw := DefaultSweep()
	sw.Methods = []MethodChoice{{Name: "centroid"}}
	sw.Datasets, sw.Streams, sw.Tasks, sw.Scenarios = []string{"synthetic"}, []string{tasks.KindPermuted, tasks.KindSplit}, 2, []string{"class"}
	sw.Permuted = p
	return sw
}

// TestPermutedConstructionInSpecs: padded (the default) is written into a
// permuted spec and its hash; plain is left out, so a plain spec is the
// spec, and has the hash, of a permuted run stored before the choice
// existed; split specs never carry it.
func TestPermutedConstructionInSpecs(t *testing.T) {
	if DefaultSweep().Permuted != tasks.PermutedPadded {
		t.Fatalf("default construction %q, want padded", DefaultSweep().Permuted)
	}
	hash := map[string]string{}
	for _, tc := range []struct{ permuted, want string }{
		{tasks.PermutedPadded, "padded"},
		{tasks.PermutedPlain, ""},
		{"", ""},
	} {
		specs, err := permutedSweep(tc.permuted).Expand(harnesstest.Catalog, harnesstest.Classes)
		if err != nil {
			t.Fatal(err)
		}
		if len(specs) != 2 || specs[0].Stream != tasks.KindPermuted || specs[1].Stream != tasks.KindSplit {
			t.Fatalf("%q: specs %+v", tc.permuted, specs)
		}
		if specs[0].Permuted != tc.want || specs[1].Permuted != "" {
			t.Errorf("%q: permuted spec says %q, split %q; want %q and nothing", tc.permuted, specs[0].Permuted, specs[1].Permuted, tc.want)
		}
		if got := specs[0].StreamConfig().Permuted; got != specs[0].Permuted {
			t.Errorf("%q: stream config %q", tc.permuted, got)
		}
		if strings.Contains(specs[0].JSON(), `"permuted":`) != (tc.want != "") {
			t.Errorf("%q: stored spec %s", tc.permuted, specs[0].JSON())
		}
		hash[tc.permuted] = specs[0].ConfigHash()
		if tc.permuted == "" {
			old := fmt.Sprintf(`{"method":"centroid","settings":%s,"dataset":"synthetic","stream":"permuted","tasks":2,"scenario":"class","seed":1,"inference_runs":1}`, specs[0].Settings)
			if h, ok := StoredHash(old, harnesstest.Catalog); !ok || h != hash[""] {
				t.Errorf("a spec stored before the choice hashes to %q (%v), a plain one to %q", h, ok, hash[""])
			}
		}
	}
	if hash[tasks.PermutedPlain] != hash[""] || hash[tasks.PermutedPadded] == hash[""] {
		t.Errorf("hashes %v: plain must be the old configuration, padded another", hash)
	}
	sw := permutedSweep("diagonal")
	if _, err := sw.Expand(harnesstest.Catalog, harnesstest.Classes); err == nil || !strings.Contains(err.Error(), `permuted "diagonal": want padded or plain`) {
		t.Errorf("bad construction: error %v", err)
	}
}

func TestSweepFilePermuted(t *testing.T) {
	base := "methods:\n  - name: centroid\ndatasets: [synthetic]\nstreams: [permuted]\ntasks: 2\n"
	for _, tc := range []struct{ line, want, err string }{
		{"", "padded", ""},
		{"permuted: padded\n", "padded", ""},
		{"permuted: plain\n", "", ""},
		{"permuted: shuffled\n", "", `study.yaml:6: permuted "shuffled": want padded or plain`},
	} {
		specs, err := ParseSweep("study.yaml", []byte(base+tc.line), harnesstest.Catalog, harnesstest.Classes)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %s", tc.line, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		for _, s := range specs {
			if s.Permuted != tc.want {
				t.Errorf("%q: spec permuted %q, want %q", tc.line, s.Permuted, tc.want)
			}
		}
	}
}

// TestPermutedScoresChunkByChunk: a permuted task's test set, made a chunk
// at a time, scores as the whole set does, inference seeds and domain
// labels included.
func TestPermutedScoresChunkByChunk(t *testing.T) {
	ds, err := tasks.Synthetic(tasks.SyntheticConfig{Classes: 4, TrainPer: 30, TestPer: 300, Shape: tasks.Shape{C: 1, H: 4, W: 5}, Noise: 0.8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, construction := range tasks.PermutedConstructions() {
		s, err := tasks.NewStream(ds, tasks.StreamConfig{Kind: tasks.KindPermuted, Tasks: 2, Seed: 1, Permuted: construction})
		if err != nil {
			t.Fatal(err)
		}
		if s.Tasks[0].Test.Len() <= EvalChunk {
			t.Fatalf("%d test examples: the test needs more than one chunk", s.Tasks[0].Test.Len())
		}
		for _, sc := range tasks.Scenarios() {
			l, err := harnesstest.NewCentroid(methods.Problem{Input: s.Shape, Outputs: sc.Outputs(s), Seed: 1}, json.RawMessage(`{"noise":3}`))
			if err != nil {
				t.Fatal(err)
			}
			t0 := s.Tasks[0]
			if err := l.Learn(context.Background(), sc.Relabel(t0, t0.Train.Set()), sc.TrainActive(s, 0), nil); err != nil {
				t.Fatal(err)
			}
			ls := newSession(newRunner(), context.Background(), RunInfo{Spec: Spec{InferenceRuns: 2}}, l, s, sc, nil)
			for j, task := range s.Tasks {
				accs, err := ls.scoreRuns(0, j)
				if err != nil {
					t.Fatal(err)
				}
				got := accs[1]
				seed := func(chunk int) uint64 { return inferenceSeed(1, j, chunk) }
				want, err := Accuracy(context.Background(), l, sc.Relabel(task, task.Test.Set()), sc.EvalActive(s, 0, j), seed)
				if err != nil || got != want {
					t.Errorf("%s %s task %d: %v by chunks, %v whole (%v)", construction, sc, j+1, got, want, err)
				}
			}
		}
	}
}

// TestPermutedStreamRuns: a run of either construction learns and scores
// every task.
func TestPermutedStreamRuns(t *testing.T) {
	for _, p := range tasks.PermutedConstructions() {
		specs, err := permutedSweep(p).Expand(harnesstest.Catalog, harnesstest.Classes)
		if err != nil {
			t.Fatal(err)
		}
		res, err := newRunner().Run(context.Background(), specs[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Matrix) != 3 || len(res.Matrix[2]) != 2 || res.Matrix[2][1] < 90 {
			t.Errorf("%s: matrix %v, want 3×2 with the last task learned", p, res.Matrix)
		}
	}
}
