package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/internal/specialfile"

	"github.com/noprop/noprop/harness/harnesstest"
)

const goodSweep = `# two configurations of one method, a second method, two scenarios, two seeds
methods:
  - name: centroid
    grid:
      noise: [0, 0.5]
  - name: noisy-centroid
    settings:
      noise: 2
datasets: [synthetic]
tasks: 2
scenarios: [task, class]
seeds: 2
first_seed: 7
inference_runs: 3
`

func TestSweepFileExpandsToTheListedUnits(t *testing.T) {
	specs, err := ParseSweep("study.yaml", []byte(goodSweep), harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	// (2 grid points + 1) configurations × 2 scenarios × 2 seeds.
	if len(specs) != 12 {
		t.Fatalf("%d units, want 12", len(specs))
	}
	want := []struct {
		method, settings, scenario string
		seed                       uint64
		runs                       int
	}{
		{"centroid", `"noise":0`, "task", 7, 1},
		{"centroid", `"noise":0`, "task", 8, 1},
		{"centroid", `"noise":0`, "class", 7, 1},
		{"centroid", `"noise":0.5`, "task", 7, 1},
		{"noisy-centroid", `"noise":2`, "task", 7, 3},
	}
	idx := []int{0, 1, 2, 4, 8}
	for k, w := range want {
		s := specs[idx[k]]
		if s.Method != w.method || !strings.Contains(string(s.Settings), w.settings) || s.Scenario != w.scenario ||
			s.Seed != w.seed || s.InferenceRuns != w.runs || s.Dataset != "synthetic" || s.Stream != "split" || s.Tasks != 2 {
			t.Errorf("unit %d: %+v (settings %s), want %+v", idx[k], s, s.Settings, w)
		}
	}
	hashes := map[string]bool{}
	for _, s := range specs {
		hashes[s.ConfigHash()] = true
	}
	if len(hashes) != 6 {
		t.Errorf("%d configurations, want 6", len(hashes))
	}
}

// TestSweepFilePixels: "standard" reaches every unit's spec and its hash;
// "raw", the default, leaves the spec (and so the hash) as without the key.
func TestSweepFilePixels(t *testing.T) {
	base := "methods:\n  - name: centroid\ndatasets: [synthetic]\ntasks: 2\n"
	hash := map[string]string{}
	for _, p := range []string{"", "pixels: raw\n", "pixels: standard\n"} {
		specs, err := ParseSweep("study.yaml", []byte(base+p), harnesstest.Catalog, harnesstest.Classes)
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		want := ""
		if strings.Contains(p, "standard") {
			want = "standard"
		}
		for _, s := range specs {
			if s.Pixels != want {
				t.Errorf("%q: spec pixels %q, want %q", p, s.Pixels, want)
			}
		}
		hash[p] = specs[0].ConfigHash()
	}
	if hash[""] != hash["pixels: raw\n"] || hash[""] == hash["pixels: standard\n"] {
		t.Errorf("hashes %v: raw must equal the default, standard must differ", hash)
	}
}

func TestBadSweepFilesNameFileLineAndProblem(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"syntax", "methods: [centroid\n", "study.yaml:1:"},
		{"unknown key", "methods:\n  - name: centroid\nseedz: 3\n", `study.yaml:3: unknown field "seedz"`},
		{"unknown method key", "methods:\n  - name: centroid\n    setings: {noise: 1}\n", `study.yaml:3: unknown field "setings"`},
		{"no methods", "datasets: [mnist]\n", "study.yaml:1: no methods"},
		{"unknown method", "methods:\n  - name: centroid\n  - name: ff\n", `study.yaml:3: unknown method "ff"`},
		{"bad setting", "methods:\n  - name: centroid\n    settings:\n      noise: -1\n", "study.yaml:4: centroid: setting noise = -1: must be ≥ 0"},
		{"unknown setting", "methods:\n  - name: centroid\n    settings:\n      nois: 1\n", `study.yaml:4: centroid: unknown setting "nois" (did you mean "noise"?)`},
		{"bad grid value", "methods:\n  - name: centroid\n    grid:\n      noise: [1, -2]\n", "study.yaml:4: centroid: setting noise = -2"},
		{"empty grid", "methods:\n  - name: centroid\n    grid:\n      noise: []\n", "study.yaml:4: grid noise of centroid is an empty list"},
		{"unknown preset", "methods:\n  - name: centroid\n    preset: paper\n", `study.yaml:3: method centroid has no preset "paper"`},
		{"wrong type", "methods:\n  - name: centroid\nseeds: five\n", "study.yaml:3: seeds: want a whole number, got text"},
		{"negative seed", "methods:\n  - name: centroid\nfirst_seed: -1\n", "study.yaml:3: -1: want a whole number, 0 or more"},
		{"one value for a list", "methods:\n  - name: centroid\ndatasets: mnist\n", "study.yaml:3: want a list here"},
		{"alias", "methods:\n  - name: centroid\n    settings: &s {noise: 1}\n  - name: noisy-centroid\n    settings: *s\n", "study.yaml:3: YAML anchors and aliases"},
		{"bad dataset", "methods:\n  - name: centroid\ndatasets:\n  - mnist\n  - svhn\n", `study.yaml:5: unknown dataset "svhn"`},
		{"tasks", "methods:\n  - name: centroid\ntasks: 3\n", "study.yaml:3: split mnist: 10 classes do not divide into 3 tasks"},
		{"scenario", "methods:\n  - name: centroid\nscenarios: [task, instance]\n", `study.yaml:3: scenario "instance"`},
		{"seeds", "methods:\n  - name: centroid\nseeds: 0\n", "study.yaml:3: seeds = 0"},
		{"pixels", "methods:\n  - name: centroid\npixels: unit\n", `study.yaml:3: pixels "unit": want raw or standard`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSweep("study.yaml", []byte(tc.src), harnesstest.Catalog, harnesstest.Classes)
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, tc.want)
			}
		})
	}
	if _, err := ReadSweepFile(context.Background(), "/no/such/study.yaml", harnesstest.Catalog, harnesstest.Classes); err == nil || !strings.Contains(err.Error(), "/no/such/study.yaml: cannot read it") {
		t.Errorf("missing file: %v", err)
	}
}

// TestSweepFileAliasBombIsRefusedBeforeExpansion: a few lines of aliases
// would expand to 10⁷ values; the file is refused at once.
func TestSweepFileAliasBombIsRefusedBeforeExpansion(t *testing.T) {
	src := "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
	for i, c := range "bcdefg" {
		prev := string("abcdefg"[i])
		src += fmt.Sprintf("%c: &%c [%s]\n", c, c, strings.TrimSuffix(strings.Repeat("*"+prev+",", 10), ","))
	}
	src += "methods:\n  - name: centroid\n    settings: {noise: *g}\n"
	start := time.Now()
	_, err := ParseSweep("bomb.yaml", []byte(src), harnesstest.Catalog, harnesstest.Classes)
	if err == nil || !strings.Contains(err.Error(), "anchors and aliases") {
		t.Fatalf("error %v, want the aliases refused", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v to refuse", d)
	}
}

// TestSweepFileReadingObeysCancel: a sweep file that blocks (a FIFO nobody
// writes) is abandoned when the context ends.
func TestSweepFileReadingObeysCancel(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "study.yaml")
	specialfile.Mkfifo(t, fifo)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ReadSweepFile(ctx, fifo, harnesstest.Catalog, harnesstest.Classes)
	if err == nil || !strings.Contains(err.Error(), "interrupted while reading it") {
		t.Fatalf("error %v, want interrupted", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned after %v", d)
	}
}

func TestSweepFileTooLargeIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("# padding\n"), MaxSweepFileBytes/10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSweepFile(context.Background(), path, harnesstest.Catalog, harnesstest.Classes)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("error %v, want the size refused", err)
	}
}

// TestSweepFileNumbersAndShortMethods: YAML's exponent notation is a
// number, a method may be written "name" or "name:preset", and a
// configuration listed twice is planned once.
func TestSweepFileNumbersAndShortMethods(t *testing.T) {
	src := "methods:\n  - centroid\n  - name: centroid\n  - name: noisy-centroid\n    settings: {noise: 1e-3}\n    grid: {noise: [2e-1, 5e0]}\n" +
		"datasets: [synthetic, synthetic]\ntasks: 2\nscenarios: [class, class-il]\n"
	specs, err := ParseSweep("study.yaml", []byte(src), harnesstest.Catalog, harnesstest.Classes)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range specs {
		got = append(got, s.Method+" "+string(s.Identity))
	}
	if len(specs) != 3 {
		t.Fatalf("%d units, want 3 (centroid once, noisy-centroid at two noises):\n%s", len(specs), strings.Join(got, "\n"))
	}
	if !strings.Contains(string(specs[1].Settings), `"noise":0.2`) || !strings.Contains(string(specs[2].Settings), `"noise":5`) {
		t.Errorf("grid settings %s, %s: want noise 0.2 and 5", specs[1].Settings, specs[2].Settings)
	}
}
