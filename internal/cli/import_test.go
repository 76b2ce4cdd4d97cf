package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportRoundTrip exports every table of the fixture database as CSV,
// imports them into a new database, and checks that the new one exports,
// tables and draws the same, byte for byte; that importing again is
// refused; and that a table of an unknown kind is one clear line.
func TestImportRoundTrip(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	kinds := []string{"runs", "cells", "metrics", "epochs", "inference", "probe"}
	exportAll := func(db, to string) []string {
		t.Helper()
		var files []string
		for _, k := range kinds {
			f := filepath.Join(to, k+".csv")
			if code, _, errOut := run(t, "export", "--db", db, "--what", k, "--status", "all", "-o", f); code != 0 {
				t.Fatalf("export %s: exit %d: %s", k, code, errOut)
			}
			files = append(files, f)
		}
		return files
	}
	first := exportAll(db, dir)
	out := filepath.Join(dir, "imported.db")
	if code, stdout, errOut := run(t, append([]string{"import", out}, first...)...); code != 0 || !strings.Contains(stdout, "run(s) imported") {
		t.Fatalf("import: exit %d: %s%s", code, stdout, errOut)
	}
	again := filepath.Join(dir, "again")
	os.Mkdir(again, 0o755)
	for i, f := range exportAll(out, again) {
		a, _ := os.ReadFile(first[i])
		b, _ := os.ReadFile(f)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the imported database exports otherwise than the one exported", kinds[i])
		}
	}
	for _, view := range [][]string{{"table", "--all-metrics"}, {"table", "--format", "csv"}} {
		_, want, _ := run(t, append(view, "--db", db)...)
		_, got, _ := run(t, append(view, "--db", out)...)
		if got != want || want == "" {
			t.Errorf("%v of the imported database:\n%s\nwant:\n%s", view, got, want)
		}
	}
	for _, kind := range []string{"matrix", "probe", "test"} {
		a, b := filepath.Join(dir, kind+"-a.png"), filepath.Join(dir, kind+"-b.png")
		run(t, "plot", kind, "--db", db, "-o", a)
		run(t, "plot", kind, "--db", out, "-o", b)
		pa, _ := os.ReadFile(a)
		pb, _ := os.ReadFile(b)
		if len(pa) == 0 || !bytes.Equal(pa, pb) {
			t.Errorf("plot %s of the imported database differs (%d and %d bytes)", kind, len(pa), len(pb))
		}
	}
	if code, _, errOut := run(t, append([]string{"import", out}, first...)...); code == 0 || !strings.Contains(errOut, "already holds run") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("importing again: exit %d, %q; want one line saying the run is there", code, errOut)
	}
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("a,b\n1,2\n"), 0o644)
	if code, _, errOut := run(t, "import", filepath.Join(dir, "new.db"), first[0], bad); code == 0 || !strings.Contains(errOut, "none of an export's tables") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("a file of unknown columns: exit %d, %q", code, errOut)
	}
}

// TestImportJournal checks that import --journal rollback gives the new
// database the rollback journal (a Slurm job array's database on a network
// file system), that the default is the write-ahead log, and that an
// unknown journal is one line before anything is written.
func TestImportJournal(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs.csv")
	if code, _, errOut := run(t, "export", "--db", db, "--what", "runs", "-o", runs); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	// Bytes 18 and 19 of an SQLite file are 2 in the write-ahead log, 1 in
	// the rollback journal.
	for _, tc := range []struct {
		flags  []string
		header byte
	}{{nil, 2}, {[]string{"--journal", "rollback"}, 1}, {[]string{"--journal", "wal"}, 2}} {
		out := filepath.Join(dir, strings.Join(append([]string{"j"}, tc.flags...), "")+".db")
		if code, _, errOut := run(t, append(append([]string{"import"}, tc.flags...), out, runs)...); code != 0 {
			t.Fatalf("import %v: exit %d: %s", tc.flags, code, errOut)
		}
		b, err := os.ReadFile(out)
		if err != nil || len(b) < 20 {
			t.Fatalf("import %v: %v", tc.flags, err)
		}
		if b[18] != tc.header || b[19] != tc.header {
			t.Errorf("import %v: header marks %d/%d, want %d", tc.flags, b[18], b[19], tc.header)
		}
	}
	out := filepath.Join(dir, "none.db")
	if code, _, errOut := run(t, "import", "--journal", "nfs", out, runs); code == 0 || !strings.Contains(errOut, "--journal") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("--journal nfs: exit %d, %q; want one line about the flag", code, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused --journal created the database")
	}
}
