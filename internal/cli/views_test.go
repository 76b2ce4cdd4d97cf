package cli

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/noprop/noprop/internal/fixture"
	"github.com/noprop/noprop/results/export"
)

func fixtureDB(t *testing.T) string {
	t.Helper()
	s, path := fixture.Open(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlotEveryKindAndFormat(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	for i, kind := range []string{"matrix", "curves", "average", "bars", "loss", "memory", "compare"} {
		ext := []string{"png", "svg", "pdf"}[i%3]
		out := filepath.Join(dir, kind+"."+ext)
		code, stdout, stderr := run(t, "plot", kind, "--db", db, "--scenario", "class", "-o", out)
		if code != 0 {
			t.Fatalf("plot %s: %s", kind, stderr)
		}
		if !strings.Contains(stdout, out) {
			t.Errorf("plot %s printed %q, want the file named", kind, stdout)
		}
		if info, err := os.Stat(out); err != nil || info.Size() < 2000 {
			t.Errorf("plot %s: %v", kind, err)
		}
	}
}

func TestReadCommandsFailWithOneLine(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"plot unknown kind", []string{"plot", "pie", "--db", db}, `figure "pie": want one of matrix, curves, average, bars, loss, test, val, probe, memory, terms`},
		{"plot no kind", []string{"plot", "--db", db}, "name one figure kind"},
		{"plot bad extension", []string{"plot", "matrix", "--db", db, "-o", filepath.Join(dir, "m.gif")}, "name the file .png, .svg or .pdf"},
		{"plot reference elsewhere", []string{"plot", "test", "--db", db, "--reference", "p=1:2"}, "--reference goes with the compare figure, not test"},
		{"plot bad reference", []string{"plot", "compare", "--db", db, "--reference", "p=1"}, `--reference: reference "p=1": point "1" is not EPOCH:VALUE`},
		{"plot missing db", []string{"plot", "matrix", "--db", missing}, "run `noprop run` first"},
		{"report missing db", []string{"report", "--db", missing, "-o", dir}, "run `noprop run` first"},
		{"export missing db", []string{"export", "--db", missing}, "run `noprop run` first"},
		{"table no match", []string{"table", "--db", db, "--method", "ff"}, "no runs with --method ff; methods in results.db: backprop, noprop-dt:quick"},
		{"plot no match", []string{"plot", "bars", "--db", db, "--dataset", "cifar10"}, "no runs with --dataset cifar10; datasets in results.db: mnist"},
		{"report no match", []string{"report", "--db", db, "--stream", "joint", "-o", dir}, "no runs with --stream joint; streams in results.db: split-mnist"},
		{"export no match", []string{"export", "--db", db, "--config", "zz"}, "no runs with --config zz; config hashes in results.db:"},
		{"bad since", []string{"table", "--db", db, "--since", "last week"}, `--since "last week": want a date`},
		{"versus a method not run", []string{"table", "--db", db, "--versus", "ff"}, "--versus ff: no configuration of ff among the selected runs; their methods: backprop, noprop-dt:quick"},
		{"bad setting", []string{"plot", "average", "--db", db, "--setting", "lr"}, `--setting "lr": want KEY=VALUE`},
		{"setting not stored", []string{"table", "--db", db, "--method", "backprop", "--setting", "lr=0.5"}, "no runs with --method backprop --setting lr=0.5; values of setting lr of the runs with --method backprop in results.db:"},
		{"bad versus", []string{"table", "--db", db, "--versus", "lr=0.1"}, `--versus "lr=0.1": want a method first`},
		{"versus and paper", []string{"table", "--db", db, "--versus", "backprop", "--paper"}, "--paper and --versus are two different tables; give one"},
		{"until before since", []string{"export", "--db", db, "--since", "2026-02-01", "--until", "2026-01-01"}, "--until 2026-01-01 is before --since 2026-02-01"},
		{"no runs in range", []string{"table", "--db", db, "--until", "2000-01-01"}, "no runs with --until 2000-01-01; the runs in results.db started from"},
		{"export bad what", []string{"export", "--db", db, "--what", "rows"}, `--what "rows": want one of runs, cells`},
		{"export bad format", []string{"export", "--db", db, "--format", "xml"}, `--format "xml"`},
		{"export bad status", []string{"export", "--db", db, "--status", "ok"}, `--status "ok"`},
		{"runs unknown scenario", []string{"runs", "--db", db, "--scenario", "bogus"}, "no runs with --scenario bogus; scenarios in results.db: class, task"},
		{"runs no match", []string{"runs", "--db", db, "--scenario", "domain"}, "no runs with --scenario domain"},
		{"export no failed runs", []string{"export", "--db", db, "--status", "failed"}, "no failed runs in results.db: 8 done"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			if code == 0 {
				t.Fatalf("exit status 0, stderr %q", stderr)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q, want one line with %q", stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a read command created %s", missing)
	}
}

func TestReadCommandsLeaveTheDatabaseAlone(t *testing.T) {
	db := fixtureDB(t)
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"table", "--db", db, "--matrices", "--memory"},
		{"plot", "curves", "--db", db, "-o", filepath.Join(dir, "c.png")},
		{"report", "--db", db, "--method", "backprop", "-o", filepath.Join(dir, "report")},
		{"export", "--db", db, "--what", "epochs", "-o", filepath.Join(dir, "e.csv")},
	} {
		if code, _, stderr := run(t, args...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Error("a read command changed the database")
	}
	entries, _ := os.ReadDir(filepath.Dir(db))
	if len(entries) != 1 {
		t.Errorf("%d files beside the database after reading, want none", len(entries)-1)
	}
}

func TestTableFilters(t *testing.T) {
	db := fixtureDB(t)
	code, out, stderr := run(t, "table", "--db", db, "--method", "noprop-dt:quick", "--scenario", "task-il", "--matrices")
	if code != 0 {
		t.Fatal(stderr)
	}
	if strings.Contains(out, "backprop") || strings.Count(out, "│ noprop-dt:quick │") != 1 || !strings.Contains(out, "after task 3") {
		t.Errorf("table output:\n%s", out)
	}
}

func TestExportToFileAndDocumentedColumns(t *testing.T) {
	db := fixtureDB(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "export.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	out := filepath.Join(t.TempDir(), "x.csv")
	for _, what := range export.Whats {
		code, _, stderr := run(t, "export", "--db", db, "--what", string(what), "--format", "csv", "-o", out)
		if code != 0 {
			t.Fatalf("export %s: %s", what, stderr)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if what != export.Inference && len(recs) < 2 {
			t.Errorf("export %s: %d lines", what, len(recs))
		}
		for _, col := range recs[0] {
			if strings.HasPrefix(col, export.SettingPrefix) {
				col = export.SettingPrefix + "<name>"
			}
			if strings.HasPrefix(col, export.TermPrefix) {
				col = export.TermPrefix + "<name>"
			}
			if !regexp.MustCompile("`" + regexp.QuoteMeta(col) + "`").MatchString(section) {
				t.Errorf("docs/export.md does not document column %s of %s", col, what)
			}
		}
	}
}

// TestNamesTravelBetweenCommands drives every reading command with the
// method, stream and scenario names that table and runs print: each answers.
func TestNamesTravelBetweenCommands(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	var names [][3]string
	for _, printer := range [][]string{{"table"}, {"runs", "--status", "done"}} {
		code, out, stderr := run(t, append(printer, "--db", db, "--format", "csv")...)
		if code != 0 {
			t.Fatalf("%s: %s", printer[0], stderr)
		}
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(recs) < 2 {
			t.Fatalf("%s --format csv: %v\n%s", printer[0], err, out)
		}
		col := map[string]int{}
		for i, c := range recs[0] {
			col[c] = i
		}
		for _, r := range recs[1:] {
			names = append(names, [3]string{r[col["method"]], r[col["stream"]], r[col["scenario"]]})
		}
	}
	for _, n := range names {
		filter := []string{"--db", db, "--method", n[0], "--stream", n[1], "--scenario", n[2]}
		for _, cmd := range [][]string{
			{"table"}, {"runs"}, {"export", "--what", "cells", "-o", filepath.Join(dir, "c.csv")},
			{"plot", "matrix", "-o", filepath.Join(dir, "m.png")}, {"report", "-o", filepath.Join(dir, "r")},
		} {
			if code, _, stderr := run(t, append(cmd, filter...)...); code != 0 {
				t.Errorf("%s with the names another command printed (%v): %s", cmd[0], n, stderr)
			}
		}
	}
}

// TestTableVersus: --versus prints each other method's configuration
// minus the reference's, per stream and scenario, as differences with
// Welch's p.
func TestTableVersus(t *testing.T) {
	db := fixtureDB(t)
	code, out, errOut := run(t, "table", "--db", db, "--versus", "backprop", "--format", "csv")
	if code != 0 {
		t.Fatalf("table --versus backprop: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || rows[0][4] != "versus" || !strings.HasSuffix(rows[0][len(rows[0])-1], "difference") {
		t.Fatalf("table --versus backprop:\n%s", out)
	}
	for _, r := range rows[1:] {
		if r[0] != "noprop-dt:quick" || r[4] != "backprop" || !regexp.MustCompile(`^[+-]\d+\.\d\d`).MatchString(r[6]) {
			t.Errorf("row %q: want noprop-dt:quick versus backprop with a signed difference", r)
		}
	}
}
