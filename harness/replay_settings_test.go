package harness

import (
	"math"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness/harnesstest"
	"github.com/noprop/noprop/tasks"
)

// TestOtherStrategiesKeepTheirHashes pins the configuration hashes of
// the strategies that came before replay: their specs never name replay's
// settings, so runs stored before it count as done. The task-IL bounds'
// stored specs (Spec.TaskHeads empty) keep theirs too; TestTaskHeads
// checks that those made now do not share them.
func TestOtherStrategiesKeepTheirHashes(t *testing.T) {
	for _, tc := range []struct{ strategy, scenario, hash string }{
		{"finetune", "class", "3ce1c76e4f12120e"},
		{"finetune", "domain", "d27da4cc718e1e94"},
		{"finetune", "task", "a73208afcaa15554"},
		{"cumulative", "class", "5d1bc45b388d4a76"},
		{"cumulative", "task", "fe85590937ec802d"},
		{"joint", "domain", "f19f70f5b0286994"},
	} {
		spec := strategySpec(t, "centroid", tc.scenario, tc.strategy, 0, 1)
		spec.TaskHeads = ""
		if h := spec.ConfigHash(); h != tc.hash || spec.Replay != nil || strings.Contains(spec.JSON(), "replay") {
			t.Errorf("%s %s: hash %s (want %s), spec %s", tc.strategy, tc.scenario, h, tc.hash, spec.JSON())
		}
	}
}

// TestReplaySettingsInTheSpec: a replay spec stores its policy's own size
// and its ratio, and they make its identity; the other policy's size
// does not.
func TestReplaySettingsInTheSpec(t *testing.T) {
	spec := func(r *Replay) Spec { return replaySpec(t, centroid, tasks.KindSplit, 2, "class", r, 1) }
	def := spec(nil)
	if *def.Replay != (Replay{Policy: ReplayClassBalanced, PerClass: 100, Ratio: 1, Weighting: ReplayWeightTask}) {
		t.Errorf("default replay %+v", *def.Replay)
	}
	if !strings.Contains(def.IdentityJSON(), `"replay":{"policy":"class-balanced","per_class":100,"ratio":1,"weighting":"task"}`) {
		t.Errorf("identity %s", def.IdentityJSON())
	}
	withSize := DefaultReplay()
	withSize.Size = 77
	if spec(&withSize).ConfigHash() != def.ConfigHash() {
		t.Error("the reservoir's size changed a class-balanced configuration")
	}
	for _, r := range []Replay{
		{Policy: ReplayClassBalanced, PerClass: 99, Ratio: 1, Weighting: ReplayWeightTask},
		{Policy: ReplayClassBalanced, PerClass: 100, Ratio: 2, Weighting: ReplayWeightTask},
		{Policy: ReplayReservoir, Size: 100, Ratio: 1, Weighting: ReplayWeightTask},
		{Policy: ReplayClassBalanced, PerClass: 100, Ratio: 1, Weighting: ReplayWeightEqual},
	} {
		if spec(&r).ConfigHash() == def.ConfigHash() {
			t.Errorf("%+v has the default's hash", r)
		}
	}
}

// TestReplaySettingsChecked: every bound, a size the policy does not use,
// settings without replay are refused in one line
// before any work, by the sweep and by Spec.Validate.
func TestReplaySettingsChecked(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	ratio := func(f float64) *float64 { return &f }
	for _, tc := range []struct {
		given ReplayGiven
		want  string
	}{
		{ReplayGiven{Policy: str("fifo")}, `replay_policy "fifo"`},
		{ReplayGiven{PerClass: num(0)}, "replay_per_class 0"},
		{ReplayGiven{PerClass: num(100_001)}, "replay_per_class 100001"},
		{ReplayGiven{PerClass: num(100_000)}, ""},
		{ReplayGiven{Policy: str(ReplayReservoir), Size: num(0)}, "replay_size 0"},
		{ReplayGiven{Policy: str(ReplayReservoir), Size: num(10_000_001)}, "replay_size 10000001"},
		{ReplayGiven{Policy: str(ReplayReservoir), Size: num(10_000_000)}, ""},
		{ReplayGiven{Size: num(50)}, "replay_size sizes the reservoir"},
		{ReplayGiven{Policy: str(ReplayReservoir), PerClass: num(5)}, "replay_per_class sizes the class-balanced"},
		{ReplayGiven{Ratio: ratio(0)}, "replay_ratio 0"},
		{ReplayGiven{Ratio: ratio(100.5)}, "replay_ratio 100.5"},
		{ReplayGiven{Ratio: ratio(math.NaN())}, "replay_ratio NaN"},
		{ReplayGiven{Ratio: ratio(100)}, ""},
	} {
		_, err := tc.given.Settings()
		if (err == nil) != (tc.want == "") || err != nil && (!strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%+v: error %v, want %q", tc.given, err, tc.want)
		}
	}
	sw := func(strategy, scenario string, r *Replay) error {
		_, err := Sweep{Methods: centroid, Datasets: []string{"synthetic"}, Streams: []string{tasks.KindSplit}, Tasks: 2,
			Scenarios: []string{"class", scenario}, Strategies: []string{strategy}, Replay: r, Seeds: 1, InferenceRuns: 1}.Expand(harnesstest.Catalog, harnesstest.Classes)
		return err
	}
	if err := sw(StrategyReplay, "task", nil); err != nil {
		t.Errorf("replay in task-IL: %v", err)
	}
	if err := sw(StrategyFinetune, "domain", &Replay{Policy: ReplayClassBalanced, PerClass: 5, Ratio: 1}); err == nil || !strings.Contains(err.Error(), "no strategy replay") {
		t.Errorf("replay settings without replay: %v", err)
	}
	if err := sw(StrategyReplay, "domain", &Replay{Policy: ReplayClassBalanced, PerClass: 5, Ratio: 0}); err == nil || !strings.HasPrefix(err.Error(), "replay_ratio 0") {
		t.Errorf("a ratio of 0 in a sweep: %v", err)
	}
	spec := replaySpec(t, centroid, tasks.KindSplit, 2, "class", nil, 1)
	for _, tc := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) {}, ""},
		{func(s *Spec) { s.Scenario = "task-il" }, ""},
		{func(s *Spec) { s.Replay.Weighting = "half" }, "replay_weighting \"half\""},
		{func(s *Spec) { s.Replay = nil }, "strategy replay without its settings"},
		{func(s *Spec) { s.Strategy = "" }, "replay settings with strategy"},
		{func(s *Spec) { s.Replay = &Replay{Policy: ReplayReservoir, Ratio: 1} }, "replay_size 0"},
	} {
		s := spec
		tc.edit(&s)
		if err := s.Validate(); (err == nil) != (tc.want == "") || err != nil && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("spec %s: error %v, want %q", s.JSON(), err, tc.want)
		}
	}
}

func TestSweepFileReplay(t *testing.T) {
	base := "methods: [centroid]\ndatasets: [synthetic]\ntasks: 2\nscenarios: [class, domain]\n"
	for _, tc := range []struct{ body, want string }{
		{"strategy: [finetune, replay]\nreplay_policy: reservoir\nreplay_size: 300\nreplay_ratio: 0.5\n", ""},
		{"strategy: [replay]\nreplay_per_class: 0\n", "x.yaml:6: replay_per_class 0"},
		{"strategy: [replay]\nreplay_ratio: 1e3\n", "x.yaml:6: replay_ratio 1000"},
		{"strategy: [replay]\nreplay_ratio: lots\n", "x.yaml:6: replay_ratio: want a number"},
		{"strategy: [finetune]\nreplay_ratio: 2\n", "x.yaml:5: replay settings given, and no strategy replay"},
		{"strategy: [replay]\nreplay_size: 2\n", "x.yaml:6: replay_size sizes the reservoir"},
	} {
		specs, err := ParseSweep("x.yaml", []byte(base+tc.body), harnesstest.Catalog, harnesstest.Classes)
		if tc.want != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(specs) != 4 || specs[0].Replay != nil || *specs[1].Replay != (Replay{Policy: ReplayReservoir, Size: 300, Ratio: 0.5, Weighting: ReplayWeightTask}) {
			t.Errorf("specs %v", specs)
		}
	}
}
