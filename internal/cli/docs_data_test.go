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

// TestForgettingDocFromItsData rebuilds the database behind
// docs/forgetting.md from the exports committed beside it and checks, with
// noprop render --check, that every table of the document and every figure
// it links is what those exports give.
func TestForgettingDocFromItsData(t *testing.T) {
	files, err := filepath.Glob("../../docs/data/forgetting-*.csv")
	if err != nil || len(files) < 3 {
		t.Fatalf("docs/data/forgetting-*.csv: %v, %v; want at least runs, cells and metrics", files, err)
	}
	db := filepath.Join(t.TempDir(), "forgetting.db")
	if code, _, errOut := run(t, append([]string{"import", db}, files...)...); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run(t, "render", "../../docs/forgetting.md", "--db", db, "--check"); code != 0 {
		t.Fatalf("render --check: exit %d: %s", code, errOut)
	}
}
