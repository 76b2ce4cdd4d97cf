package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
)

func TestSpecsPerMethodPresetsAndSettings(t *testing.T) {
	study := harness.DefaultSweep()
	study.Tasks, study.Scenarios, study.Seeds, study.FirstSeed = 5, []string{"class"}, 2, 4
	f := runFlags{methods: []string{"backprop", "noprop-dt:quick"}, sets: []string{"lr=0.01", "noprop-dt.epochs=3", "backprop.iterations=7"}, study: study}
	specs, err := f.specs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 4 {
		t.Fatalf("%d specs, want 2 methods x 2 seeds", len(specs))
	}
	want := []struct {
		method, preset string
		seed           uint64
		contains       []string
	}{
		{"backprop", "", 4, []string{`"iterations":7`, `"lr":0.01`}},
		{"backprop", "", 5, []string{`"iterations":7`}},
		{"noprop-dt", "quick", 4, []string{`"epochs":3`, `"encoder":"mlp"`, `"lr":0.01`}},
		{"noprop-dt", "quick", 5, nil},
	}
	for i, w := range want {
		s := specs[i]
		if s.Method != w.method || s.Preset != w.preset || s.Seed != w.seed {
			t.Errorf("spec %d: %s:%s seed %d, want %s:%s seed %d", i, s.Method, s.Preset, s.Seed, w.method, w.preset, w.seed)
		}
		for _, c := range w.contains {
			if !strings.Contains(string(s.Settings), c) {
				t.Errorf("spec %d settings %s lack %s", i, s.Settings, c)
			}
		}
	}
}

func TestBadInputFailsWithOneClearLine(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	// Data that is there but damaged, and a checkpoint folder that is a file.
	bad := filepath.Join(dir, "bad")
	if err := os.MkdirAll(filepath.Join(bad, "mnist"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if err := os.WriteFile(filepath.Join(bad, "mnist", name), []byte("not an idx file"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(db+".ckpt", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"train"}, "unknown command"},
		{"unknown flag", []string{"run", "--epochz", "3"}, "unknown flag"},
		{"unknown method", []string{"run", "--db", db, "--method", "noprop-xt"}, `unknown method "noprop-xt"`},
		{"unknown setting", []string{"run", "--db", db, "--set", "hiden=[3]"}, `unknown setting "hiden" (did you mean "hidden"?)`},
		{"bad set syntax", []string{"run", "--db", db, "--set", "lr"}, "want key=value"},
		{"setting of another method", []string{"run", "--db", db, "--method", "backprop", "--set", "backprop.timesteps=3"}, `unknown setting "timesteps"`},
		{"setting of the second method checked first", []string{"run", "--db", db, "--method", "noprop-dt:quick,backprop", "--set", "backprop.momentum=5"}, "backprop: setting momentum = 5: must be in [0, 1)"},
		{"misspelt method prefix", []string{"run", "--db", db, "--method", "noprop-dt", "--set", "nopropdt.epochs=2"}, `"nopropdt" is not a method of this batch (noprop-dt)`},
		{"plain setting unknown to one method", []string{"run", "--db", db, "--method", "backprop,noprop-dt", "--set", "timesteps=3"}, "applies to every method"},
		{"wrong type", []string{"run", "--db", db, "--set", "hidden=wide"}, "setting hidden: got a JSON string, want a list of integers"},
		{"empty methods", []string{"run", "--db", db, "--method", ""}, "no methods given"},
		{"empty scenarios", []string{"run", "--db", db, "--scenario", ""}, "no scenarios given"},
		{"tasks do not divide", []string{"run", "--db", db, "--tasks", "3"}, "10 classes do not divide into 3 tasks"},
		{"tasks with joint", []string{"run", "--db", db, "--stream", "joint", "--tasks", "5"}, "joint stream is the whole dataset as one task"},
		{"seeds wrap", []string{"run", "--db", db, "--seed", "18446744073709551615", "--seeds", "2"}, "run past the largest seed"},
		{"bad inference runs", []string{"run", "--db", db, "--inference-runs", "0"}, "inference runs = 0"},
		{"unknown preset after colon", []string{"run", "--db", db, "--method", "noprop-dt:fast"}, `no preset "fast"`},
		{"bad setting value", []string{"run", "--db", db, "--set", "lr=-1"}, "lr = -1"},
		{"unknown preset", []string{"run", "--db", db, "--preset", "fastest"}, `no preset "fastest"`},
		{"bad scenario", []string{"run", "--db", db, "--scenario", "instance"}, `scenario "instance"`},
		{"bad stream", []string{"run", "--db", db, "--stream", "rotated"}, `stream "rotated"`},
		{"bad seeds", []string{"run", "--db", db, "--seeds", "0"}, "seeds = 0: need at least 1"},
		{"unknown dataset", []string{"run", "--db", db, "--dataset", "svhn"}, `unknown dataset "svhn"`},
		{"unknown method to describe", []string{"methods", "noprop-xt"}, `unknown method "noprop-xt"`},
		{"missing data folder", []string{"run", "--db", db, "--data", filepath.Join(dir, "nowhere")}, "nowhere"},
		{"missing database", []string{"table", "--db", filepath.Join(dir, "none.db")}, "run `noprop run` first"},
		{"not a database", []string{"table", "--db", "cli.go"}, "cli.go"},
		{"damaged data", []string{"run", "--db", db, "--data", bad}, "train-images-idx3-ubyte"},
		{"checkpoint folder is a file", []string{"run", "--db", db, "--set", "iterations=1"}, "r.db.ckpt is not a folder"},
		{"stale under the heartbeat", []string{"run", "--db", db, "--stale", "2s"}, "--stale 2s: want at least 1m30s"},
		{"quote in a method", []string{"run", "--db", db, "--method", `a"b`}, `unknown method "a\"b"`},
		{"replay weighting", []string{"run", "--db", db, "--strategy", "replay", "--replay-weighting", "half"}, "replay_weighting \"half\""},
		{"replay settings without replay", []string{"run", "--db", db, "--replay-ratio", "2"}, "replay settings given, and no strategy replay"},
		{"replay per class out of bounds", []string{"run", "--db", db, "--strategy", "replay", "--scenario", "class", "--replay-per-class", "0"}, "replay_per_class 0: want a whole number from 1 to 100000"},
		{"replay size of the class-balanced memory", []string{"run", "--db", db, "--strategy", "replay", "--scenario", "class", "--replay-size", "10"}, "replay_size sizes the reservoir"},
		{"replay ratio out of bounds", []string{"run", "--db", db, "--strategy", "replay", "--scenario", "domain", "--replay-ratio", "101"}, "replay_ratio 101"},
		{"class order of no split stream", []string{"run", "--db", db, "--stream", "permuted", "--class-order", "seeded"}, "class order seeded orders the classes of split streams"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := execute(context.Background(), tc.args, nil, &stderr)
			out := stderr.String()
			if code == 0 {
				t.Fatalf("exit status 0, stderr %q", out)
			}
			if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "noprop: ") {
				t.Errorf("stderr is not one line starting with \"noprop: \": %q", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("stderr %q does not mention %q", out, tc.want)
			}
			if strings.Contains(out, "json:") || strings.Contains(out, "noprop-dt: noprop-dt") {
				t.Errorf("stderr %q is not in the project's words", out)
			}
			if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the database was created before the bad input was reported")
			}
		})
	}
}
