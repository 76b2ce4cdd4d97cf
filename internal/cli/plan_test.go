package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlanEstimatesFromTheSameBudget: a configuration never run is
// estimated (≈) from the runs of the same budget, those that differ only
// in learning rate or validation fraction, or else (~) scaled from runs of
// another number of steps or batch size; a budget of epochs is not.
func TestPlanEstimatesFromTheSameBudget(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 20, 5)
	db := filepath.Join(dir, "r.db")
	if code, _, errOut := run(t, "run", "--method", "backprop", "--set", "hidden=[8]", "--set", "iterations=20", "--dataset", "folder:"+data,
		"--tasks", "2", "--scenario", "class", "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	sweep := func(name, settings, extra string) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf("methods:\n  - name: backprop\n    settings: {hidden: [8], %s}\ndatasets: [\"folder:%s\"]\ntasks: 2\nscenarios: [class]\n%s", settings, data, extra)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, out, _ := run(t, "plan", sweep("lr.yaml", "iterations: 20, lr: 0.0003", "validation: 0.1\n"), "--db", db)
	if !strings.Contains(out, "≈ ") || !strings.Contains(out, "the 1 (≈) with one of the same budget") {
		t.Errorf("another learning rate and a validation hold-out:\n%s\nwant an estimate from the run of the same budget", out)
	}
	_, out, _ = run(t, "plan", sweep("epochs.yaml", "iterations: 0, epochs: 1", ""), "--db", db)
	if strings.Contains(out, "≈") || strings.Contains(out, "~") || !strings.Contains(out, "1 without an estimate") {
		t.Errorf("a budget of epochs:\n%s\nwant no estimate", out)
	}
	// A new study's database, estimated from an earlier one's runs.
	fresh := filepath.Join(dir, "new.db")
	_, out, _ = run(t, "plan", sweep("lr.yaml", "iterations: 20, lr: 0.0003", "validation: 0.1\n"), "--db", fresh)
	if !strings.Contains(out, "1 without an estimate") {
		t.Errorf("a new database alone:\n%s\nwant no estimate", out)
	}
	_, out, _ = run(t, "plan", sweep("lr.yaml", "iterations: 20, lr: 0.0003", "validation: 0.1\n"), "--db", fresh, "--estimate-from", db)
	if !strings.Contains(out, "the 1 (≈) with one of the same budget") {
		t.Errorf("a new database --estimate-from the old one:\n%s\nwant an estimate from the old one's run", out)
	}
	if code, _, errOut := run(t, "plan", sweep("lr.yaml", "iterations: 20", ""), "--db", fresh, "--estimate-from", filepath.Join(dir, "none.db")); code == 0 || !strings.Contains(errOut, "none.db") {
		t.Errorf("--estimate-from a missing file: exit %d, %q; want a failure that names it", code, errOut)
	}
	// A run resumed from a checkpoint started_at its last sitting; the rows
	// of the tasks it learned before record the earlier ones.
	sqlDB, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := sqlDB.Exec("UPDATE epochs SET seconds = 1800 WHERE rowid = (SELECT MIN(rowid) FROM epochs)"); err != nil {
		t.Fatal(err)
	}
	_, out, _ = run(t, "plan", sweep("resumed.yaml", "iterations: 20, lr: 0.0003", ""), "--db", db)
	if !strings.Contains(out, "estimated 30m") {
		t.Errorf("a run whose rows record 30 minutes:\n%s\nwant an estimate of them", out)
	}
	// Another number of steps or batch size: the training seconds scale by
	// the examples a task trains on (~); the scoring seconds stay.
	for _, tc := range []struct{ settings, want string }{
		{"iterations: 40", "~ 1h0m"},
		{"iterations: 40, batch_size: 64", "~ 30m"},
		{"iterations: 10, batch_size: 512", "~ 1h0m"},
	} {
		_, out, _ = run(t, "plan", sweep("steps.yaml", tc.settings, ""), "--db", db)
		if !strings.Contains(out, tc.want) || !strings.Contains(out, "the 1 (~) scaled from runs of another number of steps or batch size") {
			t.Errorf("%s:\n%s\nwant %q, scaled", tc.settings, out, tc.want)
		}
	}
}

// TestBudgetKey: settings added later with an identity default (stored by
// new runs, absent from old ones) and the cost-neutral ones do not part
// two specs' budgets; the number of steps does.
func TestBudgetKey(t *testing.T) {
	base := `{"method":"backprop","settings":{"iterations":20,"lr":0.001%s},"dataset":%q,"stream":"split","tasks":5,"scenario":"class","seed":%d}`
	key := func(extra string, seed int) string {
		t.Helper()
		dataset := "mnist"
		if strings.HasPrefix(extra, "dataset ") {
			dataset, extra = strings.TrimPrefix(extra, "dataset "), ""
		}
		k, ok := budgetKey(fmt.Sprintf(base, extra, dataset, seed))
		if !ok {
			t.Fatalf("budgetKey(%s): not ok", extra)
		}
		return k
	}
	old := key("", 1)
	for _, tc := range []struct {
		extra string
		same  bool
	}{
		{`,"precision":"fp32"`, true},
		{`,"weight_decay":0.01`, true},
		{`,"precision":"bf16"`, false},
		{`,"batch_size":256`, false},
		{"dataset fashion-mnist", true}, // its cost twin
		{"dataset cifar10", false},
	} {
		if got := key(tc.extra, 2) == old; got != tc.same {
			t.Errorf("budgetKey with %s equal to the old spec's: %v, want %v", tc.extra, got, tc.same)
		}
	}
}

// TestRunsShowsCheckpointProgress: an interrupted run that saved a
// checkpoint is listed with how far it had got (noprop runs, column
// checkpoint); a database without checkpoints has no such column.
func TestRunsShowsCheckpointProgress(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 20, 5)
	db := filepath.Join(dir, "r.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // interrupt the run once it has saved a checkpoint
		for ctx.Err() == nil {
			if m, _ := filepath.Glob(filepath.Join(db+".ckpt", "*.ckpt")); len(m) > 0 {
				cancel()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var errBuf bytes.Buffer
	execute(ctx, []string{"run", "--method", "noprop-dt", "--set", "encoder=mlp", "--set", "hidden=16", "--set", "timesteps=3",
		"--set", "iterations=100000", "--dataset", "folder:" + data, "--tasks", "2", "--scenario", "class",
		"--checkpoint-every", "1ms", "--db", db}, io.Discard, &errBuf)
	code, out, errOut := run(t, "runs", "--db", db)
	if code != 0 {
		t.Fatalf("runs: exit %d: %s (the run said %s)", code, errOut, errBuf.String())
	}
	if !strings.Contains(out, "checkpoint") || !strings.Contains(out, "task 1 of 2") || !strings.Contains(out, "ago") {
		t.Errorf("runs after an interrupted run:\n%s\nwant its checkpoint's progress (task 1 of 2, saved ... ago)", out)
	}
	os.RemoveAll(db + ".ckpt")
	if _, out, _ = run(t, "runs", "--db", db); strings.Contains(out, "checkpoint") {
		t.Errorf("runs without checkpoints:\n%s\nwant no checkpoint column", out)
	}
}

// TestStepKey: runs that differ in steps, batch size or a strategy other
// than the joint bound share a step key, with the examples a task trains
// on; the joint bound, another dataset or a budget of epochs do not.
func TestStepKey(t *testing.T) {
	spec := func(settings, extra string) string {
		return `{"method":"backprop","settings":{` + settings + `},"dataset":"mnist","stream":"split","tasks":5,"scenario":"class","seed":1` + extra + `}`
	}
	base, ex, ok := stepKey(spec(`"iterations":2000,"batch_size":128`, ""))
	if !ok || ex != 2000*128 {
		t.Fatalf("base: %v, %v examples", ok, ex)
	}
	for _, tc := range []struct {
		name, spec string
		same       bool
		examples   float64
	}{
		{"fewer steps", spec(`"iterations":500,"batch_size":128`, ""), true, 500 * 128},
		{"replay", spec(`"iterations":2000,"batch_size":256`, `,"strategy":"replay","replay":{"per_class":100}`), true, 2000 * 256},
		{"another rate", spec(`"iterations":2000,"batch_size":128,"lr":0.1`, ""), true, 2000 * 128},
		{"joint", spec(`"iterations":2000,"batch_size":128`, `,"strategy":"joint"`), false, 2000 * 128},
		{"another width", spec(`"iterations":2000,"batch_size":128,"hidden":[8]`, ""), false, 2000 * 128},
	} {
		k, ex, ok := stepKey(tc.spec)
		if !ok || (k == base) != tc.same || ex != tc.examples {
			t.Errorf("%s: ok %v, same key %v (want %v), %v examples (want %v)", tc.name, ok, k == base, tc.same, ex, tc.examples)
		}
	}
	if _, _, ok := stepKey(spec(`"iterations":0,"epochs":3,"batch_size":128`, "")); ok {
		t.Error("a budget of epochs has a step key")
	}
}
