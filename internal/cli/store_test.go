package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/internal/testuser"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
)

// run runs the command line and returns its exit status, stdout and stderr.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = f
	var errBuf bytes.Buffer
	code = execute(context.Background(), args, nil, &errBuf)
	os.Stdout = saved
	f.Seek(0, io.SeekStart)
	out, _ := io.ReadAll(f)
	f.Close()
	return code, string(out), errBuf.String()
}

// oneLineError checks a failed command's stderr: one line naming want.
func oneLineError(t *testing.T, code int, stderr, want string) {
	t.Helper()
	if code == 0 {
		t.Fatalf("exit status 0, want a failure mentioning %q", want)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "noprop: ") {
		t.Errorf("stderr is not one line starting with \"noprop: \": %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not mention %q", stderr, want)
	}
}

// storeWithRuns writes a database holding the done runs of seeds, each of
// one task with accuracy acc, on stream "split-mnist".
func storeWithRuns(t *testing.T, path string, acc float64, seeds ...uint64) *results.Store {
	t.Helper()
	ctx := context.Background()
	s, err := results.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, seed := range seeds {
		id, err := s.StartRun(ctx, results.Run{
			SpecJSON: fmt.Sprintf(`{"seed":%d}`, seed), ConfigHash: "cfg", Method: "backprop",
			Stream: "split-mnist", Scenario: "task", Seed: seed, NumTasks: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEval(ctx, id, 1, results.EvalRow{Acc: []float64{acc}}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, []metrics.Metric{{Name: metrics.ACC, Value: acc}}, results.Memory{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestReadingCommandsNeverWrite runs table and runs on files that hold no
// results: one line says to run first, and the file stays as it was.
func TestReadingCommandsNeverWrite(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"table", "runs"} {
		for _, path := range []string{empty, filepath.Join(dir, "missing.db")} {
			code, _, stderr := run(t, cmd, "--db", path)
			oneLineError(t, code, stderr, "run `noprop run` first")
		}
	}
	ents, _ := os.ReadDir(dir)
	if info, err := os.Stat(empty); err != nil || info.Size() != 0 || len(ents) != 1 {
		t.Errorf("the folder changed: %d files, empty.db %v %v", len(ents), info.Size(), err)
	}
}

// TestReadingCommandsInReadOnlyFolder runs table and runs, as a user who may
// not write there, on a database in a read-only folder.
func TestReadingCommandsInReadOnlyFolder(t *testing.T) {
	testuser.Run(t, func(t *testing.T) string {
		dir := testuser.TempDir(t)
		storeWithRuns(t, filepath.Join(dir, "r.db"), 80, 1, 2).Close()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		return dir
	}, func(t *testing.T, dir string) {
		db := filepath.Join(dir, "r.db")
		code, out, stderr := run(t, "table", "--db", db)
		if code != 0 || !strings.Contains(out, "80.00 ± 0.00") {
			t.Errorf("table: status %d, stderr %q, stdout\n%s", code, stderr, out)
		}
		code, out, stderr = run(t, "runs", "--db", db)
		if code != 0 || strings.Count(out, "backprop") != 2 {
			t.Errorf("runs: status %d, stderr %q, stdout\n%s", code, stderr, out)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("%d files in the folder, want the database alone", len(ents))
		}
	})
}

// TestRunRefusesReadOnlyDatabase starts a batch, as a user who may not
// write it, on a read-only database: it stops at once with one line.
func TestRunRefusesReadOnlyDatabase(t *testing.T) {
	testuser.Run(t, func(t *testing.T) string {
		dir := testuser.TempDir(t)
		db := filepath.Join(dir, "r.db")
		storeWithRuns(t, db, 80, 1).Close()
		if err := os.Chmod(db, 0o444); err != nil {
			t.Fatal(err)
		}
		// The data folder is checked before the database: give one that
		// this user can read (the files' contents are never reached).
		mnist := filepath.Join(dir, "data", "mnist")
		if err := os.MkdirAll(mnist, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
			if err := os.WriteFile(filepath.Join(mnist, f), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		return dir
	}, func(t *testing.T, dir string) {
		db := filepath.Join(dir, "r.db")
		code, out, stderr := run(t, "run", "--db", db, "--data", filepath.Join(dir, "data"), "--method", "backprop", "--set", "iterations=1", "--tasks", "2", "--scenario", "task")
		oneLineError(t, code, stderr, "the file is read-only for this user")
		if strings.Contains(out, "==") {
			t.Errorf("runs started before the refusal:\n%s", out)
		}
	})
}

// TestDamagedDatabase gives every reading and writing command a truncated
// database: one line says what it is and what to do.
func TestDamagedDatabase(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	seeds := make([]uint64, 60)
	for i := range seeds {
		seeds[i] = uint64(i)
	}
	storeWithRuns(t, db, 80, seeds...).Close()
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"table", "--db", db},
		{"runs", "--db", db},
		{"merge", filepath.Join(dir, "out.db"), db},
		{"merge", db, filepath.Join(dir, "missing.db")},
	} {
		code, _, stderr := run(t, args...)
		want := "truncated"
		if strings.HasSuffix(args[2], "missing.db") {
			want = "no such file"
		}
		oneLineError(t, code, stderr, want)
		if want == "truncated" && !strings.Contains(stderr, "restore it from a backup") {
			t.Errorf("%v: no advice in %q", args, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "out.db")); err == nil {
		t.Error("merge created its output before reading its inputs")
	}
}

func TestRunsListsOwners(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	s := storeWithRuns(t, db, 80, math.MaxUint64)
	ctx := context.Background()
	if _, err := s.StartRun(ctx, results.Run{SpecJSON: "{}", ConfigHash: "cfg", Method: "noprop-dt",
		Stream: "split-mnist", Scenario: "class", Seed: 2, NumTasks: 1}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(t, "runs", "--db", db)
	host, _ := os.Hostname()
	for _, want := range []string{"18446744073709551615", "done", "running",
		fmt.Sprintf("%s:%d", host, os.Getpid()), fmt.Sprintf("alive: pid %d is running", os.Getpid())} {
		if !strings.Contains(out, want) {
			t.Errorf("runs output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("status %d, stderr %q", code, stderr)
	}
	code, out, _ = run(t, "runs", "--db", db, "--status", "running")
	if code != 0 || strings.Contains(out, "backprop") || !strings.Contains(out, "noprop-dt") {
		t.Errorf("runs --status running:\n%s", out)
	}
	code, _, stderr = run(t, "runs", "--db", db, "--status", "finished")
	oneLineError(t, code, stderr, `--status "finished"`)
}

func TestMergeCommand(t *testing.T) {
	dir := t.TempDir()
	a, b, out := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db"), filepath.Join(dir, "out.db")
	storeWithRuns(t, a, 80, 1, 2).Close()
	storeWithRuns(t, b, 90, 3).Close()
	for _, want := range []string{
		"merged 2 databases into " + out + ": 3 runs added, 0 identical\n",
		"merged 2 databases into " + out + ": 0 runs added, 3 identical\n",
	} {
		code, stdout, stderr := run(t, "merge", out, a, b)
		if code != 0 || stdout != want {
			t.Errorf("merge: status %d, stderr %q, stdout %q; want %q", code, stderr, stdout, want)
		}
	}
	code, stdout, _ := run(t, "table", "--db", out)
	if code != 0 || !strings.Contains(stdout, "83.33 ± 3.33") {
		t.Errorf("table of the merged database:\n%s", stdout)
	}

	// A newer database is refused before anything is written.
	future := filepath.Join(dir, "future.db")
	storeWithRuns(t, future, 70, 4).Close()
	db, err := results.Open(future)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	setUserVersion(t, future, 99)
	code, _, stderr := run(t, "merge", filepath.Join(dir, "new.db"), a, future)
	oneLineError(t, code, stderr, "schema version 99 is newer than this program's")
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Error("merge created its output although an input was refused")
	}
}

// setUserVersion sets a database's schema version behind the store's back.
func setUserVersion(t *testing.T, path string, v int) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
		t.Fatal(err)
	}
}

// TestPlanShowsUnitsHeldByLiveOwners: plan marks a unit that a live process
// trains now as running, with its run and owner, and counts it apart from
// the units still to run.
func TestPlanShowsUnitsHeldByLiveOwners(t *testing.T) {
	dir := t.TempDir()
	sweep := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(sweep, []byte("methods:\n  - name: backprop\nscenarios: [class]\nseeds: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "results.db")
	code, out, stderr := run(t, "plan", sweep, "--db", db, "--format", "csv")
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	var hash string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Split(line, ","); len(f) > 2 && f[0] == "1" {
			hash = f[2]
		}
	}
	s, err := results.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Claim(context.Background(), results.Run{SpecJSON: `{"method":"backprop"}`, ConfigHash: hash,
		Method: "backprop", Stream: "split-mnist", Scenario: "class-il", Seed: 1, NumTasks: 5}, results.ClaimOptions{})
	if err != nil || c.State != results.Claimed {
		t.Fatalf("claim: %v, %v", c.State, err)
	}
	s.Close()
	code, out, stderr = run(t, "plan", sweep, "--db", db)
	if code != 0 {
		t.Fatalf("plan: exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "running (run "+c.RunID[:8]) || !strings.Contains(out, "2 run(s): 0 done, 1 running, 1 to run") {
		t.Errorf("plan with seed 1 held by this process:\n%s\nwant it marked running and counted apart", out)
	}
}

// TestDatabaseNamedTwice: a command that would open one database file twice
// (its locks would not survive) refuses with one line before it opens any,
// however the paths are spelt.
func TestDatabaseNamedTwice(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	storeWithRuns(t, a, 80, 1).Close()
	storeWithRuns(t, b, 90, 2).Close()
	aliased := dir + string(filepath.Separator) + "." + string(filepath.Separator) + "a.db" // not cleaned
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"merge", a, b, aliased}, "merge: " + aliased + " is both the output and an input"},
		{[]string{"merge", filepath.Join(dir, "out.db"), a, b, aliased}, "merge: " + a + " and " + aliased + " are one database"},
		{[]string{"run", "--method", "backprop", "--db", a, "--done-in", aliased}, "--done-in " + aliased + " is the --db database itself"},
		{[]string{"run", "--method", "backprop", "--db", filepath.Join(dir, "new.db"), "--done-in", a, "--done-in", aliased}, "--done-in " + a + " and " + aliased + " are one database"},
	} {
		before, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		code, _, stderr := run(t, tc.args...)
		oneLineError(t, code, stderr, tc.want)
		if after, _ := os.ReadFile(a); !bytes.Equal(before, after) {
			t.Errorf("%v changed %s", tc.args, a)
		}
	}
	for _, p := range []string{"out.db", "new.db"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was created", p)
		}
	}
}
