package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPaperQuickTableFromItsData rebuilds the database behind
// docs/paper-quick.md from the exports committed beside it and checks that
// table --paper prints the document's table, row for row: the published
// table and its data agree.
func TestPaperQuickTableFromItsData(t *testing.T) {
	files, err := filepath.Glob("../../docs/data/paper-quick-*.csv")
	if err != nil || len(files) != 4 {
		t.Fatalf("docs/data/paper-quick-*.csv: %v, %v; want runs, cells, metrics and inference", files, err)
	}
	db := filepath.Join(t.TempDir(), "paper-quick.db")
	if code, _, errOut := run(t, append([]string{"import", db}, files...)...); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "table", "--paper", "--format", "markdown", "--db", db)
	if code != 0 {
		t.Fatalf("table --paper: exit %d: %s", code, errOut)
	}
	doc, err := os.ReadFile("../../docs/paper-quick.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		if !strings.Contains(string(doc), line+"\n") {
			t.Errorf("docs/paper-quick.md lacks the row\n%s", line)
		}
	}
	if rows < 40 {
		t.Errorf("table --paper printed %d rows:\n%s", rows, out)
	}
}

// TestDocsFromTheirData rebuilds, for every document of docs/ that has
// generated blocks and exports data/NAME-*.csv beside it (NAME its name),
// the database behind it from those exports and checks, with noprop render
// --check, that every table of the document and every figure it links is
// what they give (scripts/doc-from-data.sh NAME regenerates them).
func TestDocsFromTheirData(t *testing.T) {
	runsFiles, err := filepath.Glob("../../docs/data/*-runs.csv")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, rf := range runsFiles {
		name := strings.TrimSuffix(filepath.Base(rf), "-runs.csv")
		doc, err := os.ReadFile(filepath.Join("../../docs", name+".md"))
		if err != nil || !strings.Contains(string(doc), "<!-- noprop ") {
			continue // no document of that name with generated blocks
		}
		t.Run(name, func(t *testing.T) {
			files := []string{}
			for _, what := range []string{"runs", "cells", "metrics", "probe", "epochs"} {
				if f := filepath.Join("../../docs/data", name+"-"+what+".csv"); fileExists(f) {
					files = append(files, f)
				}
				// A table exported in parts, one a dataset (PARTS_<WHAT>).
				parts, err := filepath.Glob(filepath.Join("../../docs/data", name+"-"+what+"-*.csv"))
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, parts...)
			}
			db := filepath.Join(t.TempDir(), name+".db")
			if code, _, errOut := run(t, append([]string{"import", db}, files...)...); code != 0 {
				t.Fatalf("import: exit %d: %s", code, errOut)
			}
			if code, _, errOut := run(t, "render", filepath.Join("../../docs", name+".md"), "--db", db, "--check"); code != 0 {
				t.Fatalf("render --check: exit %d: %s", code, errOut)
			}
		})
		checked++
	}
	if checked == 0 {
		t.Fatal("no document of docs/ has generated blocks and exports beside it; want at least forgetting.md")
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
