package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/shard"
	"github.com/noprop/noprop/internal/killedwriter"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
)

// slurmSweep is a sweep of 4 short backprop runs on MNIST.
const slurmSweep = `methods:
  - name: backprop
    settings: {iterations: 3}
scenarios: [task, class]
seeds: 2
`

// slurmFixture writes the sweep file and a stand-in for the noprop program
// that appends each call's arguments, tab-separated, as one line to the
// file named by $FAKE_LOG (and, for plan, prints a summary saying all is
// done).
func slurmFixture(t *testing.T) (dir, sweep, fake string) {
	t.Helper()
	dir = t.TempDir()
	sweep = filepath.Join(dir, "study.yaml")
	if err := os.WriteFile(sweep, []byte(slurmSweep), 0o644); err != nil {
		t.Fatal(err)
	}
	fake = writeScript(t, dir, "fake-noprop", `printf '%s\t' "$@" >>"$FAKE_LOG"; echo >>"$FAKE_LOG"
[ "$1" != plan ] || echo "4 run(s): 4 done, 0 to run"`)
	return dir, sweep, fake
}

func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSlurmScripts checks the scripts written for given options, line by
// line, and that bash can parse them.
func TestSlurmScripts(t *testing.T) {
	root, sweep, fake := slurmFixture(t)
	data := filepath.Join(root, "data")
	tests := []struct {
		name             string
		args             []string
		array, merge     []string // lines each script must hold
		notArray, notAny []string // lines they must not hold
	}{
		{
			name: "defaults",
			args: []string{"--shards", "2"},
			array: []string{
				"#SBATCH --job-name=noprop-out",
				"#SBATCH --array=0-1",
				"#SBATCH --output=OUT/logs/shard-%a.%A.out",
				"#SBATCH --cpus-per-task=2",
				"dir=OUT",
				`export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-2}`,
				`exec FAKE run --sweep "$dir/sweep.yaml" --shard "$task/2" \`,
				`  --db "$dir/shard-$task.db" --journal rollback --stale 5m0s \`,
				`  done_in=(--done-in "$dir/study.db")`,
			},
			merge: []string{
				"#SBATCH --job-name=noprop-out-merge",
				"#SBATCH --output=OUT/logs/merge.%j.out",
				"#SBATCH --cpus-per-task=1",
				"#SBATCH --time=30:00",
				"noprop=FAKE",
				`"$noprop" merge --journal rollback "$dir/study.db" "${shards[@]}"`,
				`summary=$("$noprop" plan "$dir/sweep.yaml" --db "$dir/study.db" | tail -n 1)`,
				`"$noprop" table --db "$dir/study.db"`,
			},
			notArray: []string{"#SBATCH --time=30:00"},
			notAny:   []string{"#SBATCH --mem=", "#SBATCH --partition=", "#SBATCH --dependency", "--data"},
		},
		{
			name: "every option",
			args: []string{"--shards", "3", "--partition", "cpu,long", "--time", "1-12:00:00", "--cpus", "4", "--mem", "8G",
				"--max-running", "2", "--sbatch=--qos=long", "--sbatch=--account=proj", "--data", data, "--stale", "3m"},
			array: []string{
				"#SBATCH --array=0-2%2",
				"#SBATCH --cpus-per-task=4",
				"#SBATCH --mem=8G",
				"#SBATCH --time=1-12:00:00",
				"#SBATCH --partition=cpu,long",
				"#SBATCH --qos=long",
				"#SBATCH --account=proj",
				`export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-4}`,
				`  --db "$dir/shard-$task.db" --journal rollback --stale 3m0s --data ` + data + ` \`,
			},
			merge: []string{
				"#SBATCH --mem=8G",
				"#SBATCH --time=30:00",
				"#SBATCH --partition=cpu,long",
				"#SBATCH --qos=long",
				"#SBATCH --account=proj",
			},
			notAny: []string{"#SBATCH --dependency"},
		},
	}
	if err := os.MkdirAll(filepath.Join(data, "mnist"), 0o755); err != nil {
		t.Fatal(err)
	}
	mnist := mnistDir(t)
	for _, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		if err := os.Symlink(filepath.Join(mnist, name), filepath.Join(data, "mnist", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			code, stdout, stderr := run(t, append([]string{"slurm", sweep, "--out", out, "--noprop", fake}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			t.Logf("%s", stdout)
			expand := func(s string) string {
				return strings.NewReplacer("OUT", out, "FAKE", fake).Replace(s)
			}
			scripts := map[string]string{}
			for _, name := range []string{"array", "merge"} {
				path := filepath.Join(out, name+".sbatch")
				scripts[name] = readFile(t, path)
				if msg, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
					t.Errorf("bash -n %s: %v: %s", name, err, msg)
				}
			}
			lines := func(s string) []string { return strings.Split(s, "\n") }
			for script, want := range map[string][]string{"array": tc.array, "merge": tc.merge} {
				for _, w := range want {
					if !slices.Contains(lines(scripts[script]), expand(w)) {
						t.Errorf("%s.sbatch lacks the line %q:\n%s", script, expand(w), scripts[script])
					}
				}
			}
			for _, w := range tc.notArray {
				if strings.Contains(scripts["array"], w) {
					t.Errorf("array.sbatch holds %q", w)
				}
			}
			for _, w := range tc.notAny {
				for name, s := range scripts {
					if strings.Contains(s, w) {
						t.Errorf("%s.sbatch holds %q", name, w)
					}
				}
			}
			if got := readFile(t, filepath.Join(out, "sweep.yaml")); got != slurmSweep {
				t.Errorf("sweep.yaml is %q, want a copy of the sweep file", got)
			}
		})
	}
}

// mnistDir is where the tests read MNIST from.
func mnistDir(t *testing.T) string {
	t.Helper()
	code, stdout, stderr := run(t, "data", "where")
	for line := range strings.Lines(stdout) {
		if f := strings.Fields(line); code == 0 && len(f) == 2 && f[0] == "mnist" {
			return f[1]
		}
	}
	t.Skipf("MNIST is not found here: %s%s", stdout, stderr)
	return ""
}

// runScript runs a generated script with env added to this environment and
// returns its exit status and output.
func runScript(t *testing.T, path string, env ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("bash", path)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// calls reads the stand-in's log: one call a line, its arguments.
func calls(t *testing.T, log string) [][]string {
	t.Helper()
	b, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for line := range strings.Lines(string(b)) {
		out = append(out, strings.Split(strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\t"), "\t"))
	}
	return out
}

// TestSlurmScriptsRun runs the written scripts, outside Slurm, in a folder
// whose name the shell would read otherwise, with the stand-in for noprop: a task runs its
// shard into its own database and consults study.db once it exists; the
// merge job merges every shard database, then plans and prints the table.
func TestSlurmScriptsRun(t *testing.T) {
	root, sweep, fake := slurmFixture(t)
	out := filepath.Join(root, "study&co$1;(x)")
	if code, _, stderr := run(t, "slurm", sweep, "--shards", "2", "--out", out, "--noprop", fake); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	log := filepath.Join(root, "calls")
	array, merge := filepath.Join(out, "array.sbatch"), filepath.Join(out, "merge.sbatch")

	code, output := runScript(t, array, "FAKE_LOG="+log, "SLURM_ARRAY_TASK_ID=")
	if code == 0 || !strings.Contains(output, "run this script as a Slurm job array") {
		t.Errorf("without a task ID: exit %d, %q; want a failure saying to run it as a job array", code, output)
	}
	runTask := func() []string {
		t.Helper()
		os.Remove(log)
		if code, output := runScript(t, array, "FAKE_LOG="+log, "SLURM_ARRAY_TASK_ID=1", "SLURM_CPUS_PER_TASK=3"); code != 0 {
			t.Fatalf("task 1: exit %d: %s", code, output)
		}
		c := calls(t, log)
		if len(c) != 1 {
			t.Fatalf("task 1 ran noprop %d times, want once: %q", len(c), c)
		}
		return c[0]
	}
	want := []string{"run", "--sweep", filepath.Join(out, "sweep.yaml"), "--shard", "1/2",
		"--db", filepath.Join(out, "shard-1.db"), "--journal", "rollback", "--stale", "5m0s"}
	if got := runTask(); !slices.Equal(got, want) {
		t.Errorf("task 1 ran noprop with\n%q, want\n%q", got, want)
	}
	if err := os.WriteFile(filepath.Join(out, "study.db"), []byte("merged"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := runTask(); !slices.Equal(got, append(want, "--done-in", filepath.Join(out, "study.db"))) {
		t.Errorf("task 1 with a study.db ran noprop with %q; want it to consult study.db too", got)
	}

	os.Remove(log)
	if code, output := runScript(t, merge, "FAKE_LOG="+log); code == 0 || !strings.Contains(output, "no shard database") {
		t.Errorf("merge without shard databases: exit %d, %q; want a failure saying so", code, output)
	}
	for _, name := range []string{"shard-0.db", "shard-1.db", "shard-1.db-journal"} {
		if err := os.WriteFile(filepath.Join(out, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, output = runScript(t, merge, "FAKE_LOG="+log)
	if code != 0 {
		t.Fatalf("merge: exit %d: %s", code, output)
	}
	study := filepath.Join(out, "study.db")
	wantCalls := [][]string{
		{"merge", "--journal", "rollback", study, filepath.Join(out, "shard-0.db"), filepath.Join(out, "shard-1.db")},
		{"plan", filepath.Join(out, "sweep.yaml"), "--db", study},
		{"table", "--db", study},
	}
	if got := calls(t, log); !slices.EqualFunc(got, wantCalls, slices.Equal) {
		t.Errorf("merge ran\n%q, want\n%q", got, wantCalls)
	}
	if !strings.Contains(output, "4 run(s): 4 done, 0 to run") || strings.Contains(output, "not every run is done") {
		t.Errorf("merge output %q: want the plan's summary and no complaint", output)
	}
}

// TestSlurmRefusesBadOptions gives slurm bad options and sweeps: one line
// says what is wrong, and nothing is written.
func TestSlurmRefusesBadOptions(t *testing.T) {
	root, sweep, fake := slurmFixture(t)
	file := filepath.Join(root, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badSweep := filepath.Join(root, "bad.yaml")
	if err := os.WriteFile(badSweep, []byte("methods:\n  - name: backpropp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noSbatch := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  string // PATH, when set
		want string
	}{
		{"no shards", []string{"--shards", "0"}, "", "--shards 0: need at least 1"},
		{"more shards than runs", []string{"--shards", "5"}, "", "--shards 5: the sweep has 4 runs, so at most 4 shards"},
		{"no CPUs", []string{"--cpus", "0"}, "", "--cpus 0: need at least 1"},
		{"time in hours", []string{"--time", "4h"}, "", `--time "4h": want Slurm's format`},
		{"memory in GB", []string{"--mem", "4GB"}, "", `--mem "4GB": want a size with one of Slurm's units`},
		{"partition with a space", []string{"--partition", "cpu long"}, "", `--partition "cpu long"`},
		{"negative max-running", []string{"--max-running", "-1"}, "", "--max-running -1"},
		{"sbatch option without dashes", []string{"--sbatch", "qos=long"}, "", `--sbatch "qos=long": want one long sbatch option`},
		{"sbatch option with a space", []string{"--sbatch=--qos=long x"}, "", "without spaces"},
		{"sbatch option the scripts set", []string{"--sbatch=--array=0-3"}, "", "the scripts set --array themselves"},
		{"no stale", []string{"--stale", "0s"}, "", "--stale 0s: want at least 1m30s"},
		{"stale under three heartbeats", []string{"--stale", "2s"}, "", "--stale 2s: want at least 1m30s"},
		{"no such program", []string{"--noprop", filepath.Join(root, "nowhere")}, "", "not an executable program"},
		{"program not executable", []string{"--noprop", file}, "", "not an executable program"},
		{"out is a file", []string{"--out", file}, "", "is a file; name a folder"},
		{"out with a blank", []string{"--out", filepath.Join(root, "my study")}, "", "a path with blanks, quotes or backslashes"},
		{"submit without sbatch", []string{"--submit"}, noSbatch, "sbatch is not on PATH"},
		{"missing data folder", []string{"--data", filepath.Join(root, "nodata")}, "", "nodata"},
		{"bad sweep", []string{"SWEEP=" + badSweep}, "", "bad.yaml:2:"},
		{"missing sweep", []string{"SWEEP=" + filepath.Join(root, "none.yaml")}, "", "none.yaml: cannot read it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			s := sweep
			var flags []string
			for _, a := range tc.args {
				if v, ok := strings.CutPrefix(a, "SWEEP="); ok {
					s = v
				} else {
					flags = append(flags, a)
				}
			}
			args := append([]string{"slurm", s, "--shards", "2", "--out", out, "--noprop", fake}, flags...)
			if tc.env != "" {
				t.Setenv("PATH", tc.env)
			}
			code, _, stderr := run(t, args...)
			oneLineError(t, code, stderr, tc.want)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was created", out)
			}
		})
	}
}

// doneIn stores a done run of each spec in a database.
func doneIn(t *testing.T, path string, specs []harness.Spec) {
	t.Helper()
	ctx := context.Background()
	s, err := results.OpenJournal(path, results.JournalRollback)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, sp := range specs {
		id, err := s.StartRun(ctx, results.Run{SpecJSON: sp.JSON(), ConfigHash: sp.ConfigHash(), Method: sp.Method,
			Stream: "split-mnist", Scenario: sp.Scenario, Seed: sp.Seed, NumTasks: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEval(ctx, id, 1, results.EvalRow{Acc: []float64{50}}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, nil, results.Memory{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSlurmSubmitsOnlyWhatIsMissing submits, with a stand-in for sbatch, a
// study one of whose two shards is done: only the other is submitted, then
// the merge job after it. With every run done but not merged only the merge
// job is submitted; with every run merged, nothing.
func TestSlurmSubmitsOnlyWhatIsMissing(t *testing.T) {
	root, sweep, fake := slurmFixture(t)
	bin := t.TempDir()
	sbatchLog := filepath.Join(root, "sbatch-calls")
	writeScript(t, bin, "sbatch", `printf '%s\t' "$@" >>"`+sbatchLog+`"; echo >>"`+sbatchLog+`"
n=$(wc -l <"`+sbatchLog+`"); echo "$((100 + n));cluster1"`)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	specs, err := harness.ReadSweepFile(context.Background(), sweep, catalog.All, nil)
	if err != nil {
		t.Fatal(err)
	}
	byShard := map[int][]harness.Spec{}
	for _, s := range specs {
		i := shard.Of(s.ConfigHash(), s.Seed, 2)
		byShard[i] = append(byShard[i], s)
	}
	if len(byShard[0]) == 0 || len(byShard[1]) == 0 {
		t.Fatalf("the sweep's runs are all in one shard (%d, %d): pick another sweep", len(byShard[0]), len(byShard[1]))
	}
	out := filepath.Join(root, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	doneIn(t, filepath.Join(out, "shard-0.db"), byShard[0])
	slurm := func() string {
		t.Helper()
		os.Remove(sbatchLog)
		code, stdout, stderr := run(t, "slurm", sweep, "--shards", "2", "--out", out, "--noprop", fake, "--submit")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return stdout
	}

	stdout := slurm()
	array, merge := filepath.Join(out, "array.sbatch"), filepath.Join(out, "merge.sbatch")
	want := [][]string{{"--parsable", "--array=1", array}, {"--parsable", "--dependency=afterany:101", merge}}
	if got := calls(t, sbatchLog); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("sbatch calls\n%q, want\n%q", got, want)
	}
	for _, w := range []string{fmt.Sprintf("%d done, %d to run, in shards 1", len(byShard[0]), len(byShard[1])),
		"submitted job array 101 (shards 1 of 2) and merge job 102 after it"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, stdout)
		}
	}

	doneIn(t, filepath.Join(out, "shard-1.db"), byShard[1])
	stdout = slurm()
	if got := calls(t, sbatchLog); !slices.EqualFunc(got, [][]string{{"--parsable", merge}}, slices.Equal) {
		t.Errorf("with every run done but none merged, sbatch calls %q; want the merge job alone", got)
	}
	if !strings.Contains(stdout, "every run is done, but 4 are not merged") || !strings.Contains(stdout, "submitted merge job 101") {
		t.Errorf("output:\n%s", stdout)
	}

	doneIn(t, filepath.Join(out, "study.db"), specs)
	stdout = slurm()
	if got := calls(t, sbatchLog); got != nil {
		t.Errorf("with every run merged, sbatch calls %q; want none", got)
	}
	if !strings.Contains(stdout, "nothing to submit") {
		t.Errorf("output:\n%s", stdout)
	}

	// A refusal of sbatch is one line.
	os.Remove(filepath.Join(out, "study.db"))
	os.Remove(filepath.Join(out, "shard-1.db"))
	writeScript(t, bin, "sbatch", `echo "sbatch: error: invalid partition specified: gpu" >&2; exit 1`)
	code, _, stderr := run(t, "slurm", sweep, "--shards", "2", "--out", out, "--noprop", fake, "--submit")
	oneLineError(t, code, stderr, "array.sbatch: sbatch: error: invalid partition specified: gpu")
}

func headerJournal(t *testing.T, path string) string {
	t.Helper()
	b := readFile(t, path)
	switch b[18] {
	case 1:
		return "rollback"
	case 2:
		return "wal"
	}
	return fmt.Sprintf("unknown (%d)", b[18])
}

// TestRunDoneInAndJournal runs a sweep whose runs are all done in another
// database, named with --done-in: nothing is trained, and the new
// database is in the journal --journal names. Bad uses are one line.
func TestRunDoneInAndJournal(t *testing.T) {
	root, sweep, _ := slurmFixture(t)
	specs, err := harness.ReadSweepFile(context.Background(), sweep, catalog.All, nil)
	if err != nil {
		t.Fatal(err)
	}
	study := filepath.Join(root, "study.db")
	doneIn(t, study, specs)
	db := filepath.Join(root, "shard.db")
	code, stdout, stderr := run(t, "run", "--sweep", sweep, "--db", db, "--journal", "rollback", "--done-in", study)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "already done in "+study); n != len(specs) {
		t.Errorf("%d runs skipped as done in %s, want %d:\n%s", n, study, len(specs), stdout)
	}
	if !strings.Contains(stdout, fmt.Sprintf("0 run(s) finished, %d skipped as already done", len(specs))) {
		t.Errorf("output:\n%s", stdout)
	}
	if got := headerJournal(t, db); got != "rollback" {
		t.Errorf("--journal rollback made a database in the %s journal", got)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--journal", "delete"}, `--journal "delete": want wal`},
		{[]string{"--done-in", filepath.Join(root, "none.db")}, "--done-in: read results db " + filepath.Join(root, "none.db")},
		{[]string{"--done-in", study, "--rerun"}, "--rerun with --done-in"},
	} {
		fresh := filepath.Join(t.TempDir(), "r.db")
		code, _, stderr := run(t, append([]string{"run", "--sweep", sweep, "--db", fresh}, tc.args...)...)
		oneLineError(t, code, stderr, tc.want)
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("%v: the database was created", tc.args)
		}
	}
}

// TestMergeRollsBackAKilledWriter merges an input whose writer was killed
// while it committed in the rollback journal: merge rolls it back and
// merges what was committed, into an output in the journal asked for.
func TestMergeRollsBackAKilledWriter(t *testing.T) {
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	s, err := results.OpenJournal(live, results.JournalRollback)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	storeWithRuns(t, live, 80, 1, 2).Close()
	killed := filepath.Join(dir, "killed.db")
	killedwriter.Copy(t, live, killed)
	out := filepath.Join(dir, "out.db")
	code, stdout, stderr := run(t, "merge", "--journal", "rollback", out, killed)
	if code != 0 || !strings.Contains(stdout, "2 runs added") {
		t.Fatalf("merge: exit %d, %s%s; want the 2 committed runs added", code, stdout, stderr)
	}
	if got := headerJournal(t, out); got != "rollback" {
		t.Errorf("merge --journal rollback wrote a database in the %s journal", got)
	}
}
