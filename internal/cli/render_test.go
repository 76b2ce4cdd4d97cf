package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRender writes a document with a table block and a figure block,
// renders it from a database, and checks that --check then passes, that
// it names the block when a table row or the figure is changed by hand,
// and that a block it cannot run is one line.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	storeWithRuns(t, db, 87.5, 1, 2).Close()
	doc := filepath.Join(dir, "study.markdown")
	const text = "# Study\n\n<!-- noprop table --format markdown -->\nstale\n<!-- end -->\n\n" +
		"<!-- noprop plot matrix -o fig/m.png -->\n![matrix](fig/m.png)\n<!-- end -->\n"
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(doc, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(text)
	if code, _, errOut := run(t, "render", doc, "--db", db, "--check"); code == 0 {
		t.Fatal("--check passed on a stale document")
	} else {
		oneLineError(t, code, errOut, "study.markdown:3: the table differs from what `noprop table --format markdown` gives")
	}
	if code, _, errOut := run(t, "render", doc, "--db", db); code != 0 {
		t.Fatalf("render: exit %d: %s", code, errOut)
	}
	got, _ := os.ReadFile(doc)
	if !strings.Contains(string(got), "| 87.50 ± 0.00 |") || strings.Contains(string(got), "stale") ||
		!strings.Contains(string(got), "![matrix](fig/m.png)\n<!-- end -->") {
		t.Errorf("rendered document:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "fig", "m.png")); err != nil {
		t.Errorf("figure not drawn: %v", err)
	}
	if code, _, errOut := run(t, "render", doc, "--db", db, "--check"); code != 0 {
		t.Fatalf("--check after render: exit %d: %s", code, errOut)
	}

	// A row changed by hand, then the figure: --check names each.
	write(strings.Replace(string(got), "87.50", "88.50", 1))
	code, _, errOut := run(t, "render", doc, "--db", db, "--check")
	oneLineError(t, code, errOut, "study.markdown:3: the table differs")
	write(string(got))
	if err := os.WriteFile(filepath.Join(dir, "fig", "m.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "render", doc, "--db", db, "--check")
	oneLineError(t, code, errOut, "the figure "+filepath.Join(dir, "fig", "m.png")+" differs")

	for _, tc := range []struct{ block, want string }{
		{"<!-- noprop run --method backprop -->", "a block runs table or plot, not \"run\""},
		{"<!-- noprop table --db other.db -->", "the block names --db"},
		{"<!-- noprop plot matrix -o ../m.png -->", "inside the document's folder"},
		{"<!-- noprop plot matrix -->", "names its figure with -o"},
		{"<!-- noprop table --method nosuch -->", "line 1 (noprop table --method nosuch)"},
	} {
		write(tc.block + "\n<!-- end -->\n")
		code, _, errOut := run(t, "render", doc, "--db", db)
		oneLineError(t, code, errOut, tc.want)
	}
	// A figure block left empty gets the figure's link.
	write("<!-- noprop plot matrix -o fig/m.png -->\n<!-- end -->\n")
	if code, _, errOut := run(t, "render", doc, "--db", db); code != 0 {
		t.Fatalf("render: exit %d: %s", code, errOut)
	}
	if got, _ := os.ReadFile(doc); !strings.Contains(string(got), "\n![noprop plot matrix -o fig/m.png](fig/m.png)\n<!-- end -->") {
		t.Errorf("an empty figure block rendered as:\n%s", got)
	}
	write("<!-- noprop table -->\n")
	code, _, errOut = run(t, "render", doc, "--db", db)
	oneLineError(t, code, errOut, "line 1: the block has no <!-- end -->")
}
