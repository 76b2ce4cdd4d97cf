package results

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noprop/noprop/results/metrics"
)

// filterRun is one run of the filter tests' database.
type filterRun struct {
	name, method, preset, dataset, kind, scenario, hash string
	strategy                                            string // "" for a spec without one
	day                                                 int    // started on 2026-01-<day> at noon, local time
	status                                              Status
}

var filterRuns = []filterRun{
	{"bp-split-class", "backprop", "", "mnist", "split", "class", "aa11", "", 3, StatusDone},
	{"bp-split-task", "backprop", "", "mnist", "split", "task", "aa22", "replay", 3, StatusDone},
	{"np-split-class", "noprop-dt", "quick", "mnist", "split", "class", "bb11", "", 4, StatusDone},
	{"np-fashion-class", "noprop-dt", "paper", "fashion-mnist", "split", "class", "bb22", "", 5, StatusDone},
	{"bp-perm-domain", "backprop", "", "mnist", "permuted", "domain", "cc11", "", 6, StatusFailed},
	{"np-perm-domain", "noprop-dt", "quick", "mnist", "permuted", "domain", "cc22", "", 6, StatusRunning},
}

// filterSettings are the method settings of filterRuns by name; "{}" for
// the others.
var filterSettings = map[string]string{
	"bp-split-class": `{"lr":0.001,"hidden":[400,400]}`,
	"bp-split-task":  `{"lr":0.0003}`,
	"np-split-class": `{"lr":0.001,"embedding":"learned","collapse_check":true}`,
	"np-perm-domain": `{"lr":0.001,"embedding":"one-hot","collapse_check":false}`,
}

// filterStore writes filterRuns and returns the store and the run IDs by name.
func filterStore(t *testing.T) (*Store, map[string]string) {
	t.Helper()
	ctx := t.Context()
	s := openT(t, filepath.Join(t.TempDir(), "results.db"))
	ids := map[string]string{}
	for _, fr := range filterRuns {
		settings := filterSettings[fr.name]
		if settings == "" {
			settings = "{}"
		}
		spec := fmt.Sprintf(`{"method":%q,"preset":%q,"settings":%s,"dataset":%q,"stream":%q,"tasks":1,"scenario":%q,"strategy":%q,"seed":1}`,
			fr.method, fr.preset, settings, fr.dataset, fr.kind, fr.scenario, fr.strategy)
		r := Run{SpecJSON: spec, ConfigHash: fr.hash, Method: fr.method, Stream: fr.kind + "-" + fr.dataset,
			Scenario: fr.scenario, Seed: 1, NumTasks: 1,
			Started: time.Date(2026, 1, fr.day, 12, 0, 0, 0, time.Local)}
		id, err := s.StartRun(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		switch fr.status {
		case StatusDone:
			if err := s.RecordEval(ctx, id, 1, EvalRow{Acc: []float64{90}}); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishRun(ctx, id, nil, Memory{}); err != nil {
				t.Fatal(err)
			}
		case StatusFailed:
			if err := s.FailRun(ctx, id, StatusFailed, "diverged"); err != nil {
				t.Fatal(err)
			}
		}
		ids[fr.name] = id
	}
	return s, ids
}

func day(d int, end bool) time.Time {
	t := time.Date(2026, 1, d, 0, 0, 0, 0, time.Local)
	if end {
		t = t.Add(endOfDay)
	}
	return t
}

func TestFilterSelects(t *testing.T) {
	s, ids := filterStore(t)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"everything", Filter{}, []string{"bp-split-class", "bp-split-task", "np-split-class", "np-fashion-class", "bp-perm-domain", "np-perm-domain"}},
		{"method", Filter{Method: "backprop"}, []string{"bp-split-class", "bp-split-task", "bp-perm-domain"}},
		{"method list", Filter{Method: "backprop, noprop-dt:paper"}, []string{"bp-split-class", "bp-split-task", "np-fashion-class", "bp-perm-domain"}},
		{"method and preset", Filter{Method: "noprop-dt:quick"}, []string{"np-split-class", "np-perm-domain"}},
		{"dataset from the spec", Filter{Dataset: "fashion-mnist"}, []string{"np-fashion-class"}},
		{"stream kind from the spec", Filter{StreamKind: "permuted"}, []string{"bp-perm-domain", "np-perm-domain"}},
		{"scenario with -il", Filter{Scenario: "class-il"}, []string{"bp-split-class", "np-split-class", "np-fashion-class"}},
		{"strategy", Filter{Strategy: "replay"}, []string{"bp-split-task"}},
		{"fine-tuned: no strategy stored", Filter{Strategy: "finetune", Method: "backprop"}, []string{"bp-split-class", "bp-perm-domain"}},
		{"config prefix", Filter{ConfigHash: "aa"}, []string{"bp-split-class", "bp-split-task"}},
		{"full config hash", Filter{ConfigHash: "bb22"}, []string{"np-fashion-class"}},
		{"since a day", Filter{Since: day(5, false)}, []string{"np-fashion-class", "bp-perm-domain", "np-perm-domain"}},
		{"until a day, inclusive", Filter{Until: day(4, true)}, []string{"bp-split-class", "bp-split-task", "np-split-class"}},
		{"one day", Filter{Since: day(6, false), Until: day(6, true)}, []string{"bp-perm-domain", "np-perm-domain"}},
		{"status", Filter{Status: StatusFailed}, []string{"bp-perm-domain"}},
		{"setting as a number", Filter{Setting: "lr=1e-3"}, []string{"bp-split-class", "np-split-class", "np-perm-domain"}},
		{"setting as text", Filter{Setting: "embedding=learned"}, []string{"np-split-class"}},
		{"setting as a boolean", Filter{Setting: "collapse_check=false"}, []string{"np-perm-domain"}},
		{"settings: one key's values any, keys all", Filter{Setting: "lr=0.0003, lr=0.001, embedding=one-hot"}, []string{"np-perm-domain"}},
		{"one method's setting", Filter{Setting: "noprop-dt.embedding=one-hot"}, []string{"bp-split-class", "bp-split-task", "bp-perm-domain", "np-perm-domain"}},
		{"one method's setting and a shared one", Filter{Setting: "noprop-dt.lr=0.001,lr=0.0003,backprop.lr=0.0003"}, []string{"bp-split-task"}},
		{"setting with other fields", Filter{Method: "backprop", Setting: "lr=0.0003"}, []string{"bp-split-task"}},
		{"all together", Filter{Method: "backprop", Dataset: "mnist", StreamKind: "split", Scenario: "task", ConfigHash: "aa2"}, []string{"bp-split-task"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := s.Runs(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs {
				for name, id := range ids {
					if r.ID == id {
						got = append(got, name)
					}
				}
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("selected %v, want %v", got, tc.want)
			}
			if err := s.RequireMatch(t.Context(), tc.f); err != nil {
				t.Errorf("RequireMatch: %v", err)
			}
		})
	}
}

func TestRequireMatchNamesWhatExists(t *testing.T) {
	s, _ := filterStore(t)
	tests := []struct {
		name string
		f    Filter
		want string
	}{
		{"unknown method", Filter{Method: "ff"}, "no runs with --method ff; methods in results.db: backprop, noprop-dt:paper, noprop-dt:quick"},
		{"unknown preset", Filter{Method: "noprop-dt:slow"}, "no runs with --method noprop-dt:slow; methods in results.db:"},
		{"dataset after method", Filter{Method: "backprop", Dataset: "fashion-mnist"},
			"no runs with --method backprop --dataset fashion-mnist; datasets of the runs with --method backprop in results.db: mnist"},
		{"stream kind", Filter{StreamKind: "joint"}, "no runs with --stream joint; streams in results.db: permuted-mnist, split-fashion-mnist, split-mnist"},
		{"scenario", Filter{Dataset: "fashion-mnist", Scenario: "task"},
			"no runs with --dataset fashion-mnist --scenario task; scenarios of the runs with --dataset fashion-mnist in results.db: class"},
		{"strategy", Filter{Strategy: "joint"}, "no runs with --strategy joint; strategies in results.db: finetune, replay"},
		{"config", Filter{ConfigHash: "ff"}, "no runs with --config ff; config hashes in results.db: aa11, aa22, bb11, bb22, cc11, cc22"},
		{"setting", Filter{Method: "noprop-dt", Setting: "lr=0.001,embedding=none"},
			"no runs with --method noprop-dt --setting lr=0.001,embedding=none; values of setting embedding of the runs with --method noprop-dt --setting lr=0.001 in results.db: learned, one-hot"},
		{"setting value", Filter{Method: "backprop", Setting: "lr=0.1"},
			"no runs with --method backprop --setting lr=0.1; values of setting lr of the runs with --method backprop in results.db: 0.0003, 0.001, (none)"},
		{"setting syntax", Filter{Setting: "lr"}, "--setting \"lr\": want KEY=VALUE"},
		{"dates", Filter{Method: "noprop-dt", Since: day(7, false)},
			"no runs with --method noprop-dt --since 2026-01-07; the runs with --method noprop-dt in results.db started from 2026-01-04 12:00 to 2026-01-06 12:00"},
		{"status", Filter{StreamKind: "permuted", Status: StatusDone},
			"no done runs with --stream permuted in results.db: 1 failed, 1 running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.RequireMatch(t.Context(), tc.f)
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error\n%q\nwant one line starting\n%q", err, tc.want)
			}
		})
	}
}

func TestRequireMatchOnEmptyDatabase(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "empty.db"))
	err := s.RequireMatch(t.Context(), Filter{Method: "backprop"})
	if err == nil || !strings.Contains(err.Error(), "no runs yet") || !strings.Contains(err.Error(), "noprop run") {
		t.Errorf("error %v, want one saying the database holds no runs yet", err)
	}
}

func TestParseTimeBound(t *testing.T) {
	tests := []struct {
		in   string
		end  bool
		want time.Time
	}{
		{"2026-01-05", false, time.Date(2026, 1, 5, 0, 0, 0, 0, time.Local)},
		{"2026-01-05", true, time.Date(2026, 1, 5, 23, 59, 59, 999e6, time.Local)},
		{"2026-01-05T14:30", true, time.Date(2026, 1, 5, 14, 30, 0, 0, time.Local)},
		{"2026-01-05T14:30:10", false, time.Date(2026, 1, 5, 14, 30, 10, 0, time.Local)},
		{"2026-01-05T14:30:10Z", false, time.Date(2026, 1, 5, 14, 30, 10, 0, time.UTC)},
	}
	for _, tc := range tests {
		got, err := ParseTimeBound(tc.in, tc.end)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTimeBound(%q, %v) = %v, %v; want %v", tc.in, tc.end, got, err, tc.want)
		}
		if got, _ := ParseTimeBound(formatBound(tc.want), tc.end); !got.Equal(tc.want) {
			t.Errorf("formatBound(%v) = %q does not read back", tc.want, formatBound(tc.want))
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-13-01", "05/01/2026"} {
		if _, err := ParseTimeBound(bad, false); err == nil {
			t.Errorf("ParseTimeBound(%q) accepted", bad)
		}
	}
}

func TestOpenReadOnlyLeavesTheFileAlone(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.db")
	if _, err := OpenReadOnly(missing); !errors.Is(err, ErrNoResults) {
		t.Errorf("missing file: error %v, want ErrNoResults", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenReadOnly created %s", missing)
	}

	path := filepath.Join(dir, "r.db")
	w := openT(t, path)
	completeRun(t, w, testRun("backprop", "h1", 1, 2), fakeMatrix(2, 0), []metrics.Metric{{Name: metrics.ACC, Value: 50}}, Memory{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	if sums, err := r.Summaries(t.Context(), Filter{}); err != nil || len(sums) != 1 {
		t.Errorf("summaries %v, %v; want 1", sums, err)
	}
	if _, err := r.StartRun(t.Context(), testRun("backprop", "h2", 1, 2)); err == nil {
		t.Error("a read-only store accepted a write")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(before) != sha256.Sum256(after) {
		t.Error("reading changed the database file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files after reading: %v, want only r.db", names)
	}
}

func TestSettingsMatch(t *testing.T) {
	spec := `{"method":"noprop-dt","settings":{"lr":0.001,"embedding":"learned","collapse_check":true,"hidden":[400,400]}}`
	tests := []struct {
		setting string
		want    bool
	}{
		{"", true},
		{"lr=0.001", true},
		{"lr=1e-3", true},
		{"lr=0.0003", false},
		{"lr=0.0003,lr=0.001", true},
		{"embedding=learned,lr=0.001", true},
		{"embedding=learned,lr=0.01", false},
		{"embedding=one-hot", false},
		{"collapse_check=true", true},
		{"collapse_check=false", false},
		{"train_order=parallel", false},
		{"noprop-dt.embedding=learned", true},
		{"noprop-dt.embedding=one-hot", false},
		{"backprop.embedding=one-hot", true},
		{"backprop.lr=0.5,noprop-dt.lr=0.001", true},
	}
	for _, tc := range tests {
		matches, err := ParseSettingMatches(tc.setting)
		if err != nil {
			t.Fatalf("ParseSettingMatches(%q): %v", tc.setting, err)
		}
		if got := SettingsMatch(spec, matches); got != tc.want {
			t.Errorf("SettingsMatch(%q) = %v, want %v", tc.setting, got, tc.want)
		}
	}
	for _, bad := range []string{"lr", "lr=", "=1", "Lr=1", "lr.x.y=1", ".lr=1", "noprop-dt.=1"} {
		if _, err := ParseSettingMatches(bad); err == nil {
			t.Errorf("ParseSettingMatches(%q) accepted", bad)
		}
	}
}
