package docblock

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const doc = `# Title

<!-- noprop table --format markdown -->
| old |
<!-- end -->

Prose.
<!-- noprop plot average -o a.png -->
![figure](a.png)
<!-- end -->
`

func TestParse(t *testing.T) {
	blocks, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2", len(blocks))
	}
	for i, want := range []struct {
		line    int
		command string
		body    string
	}{
		{3, "noprop table --format markdown", "| old |\n"},
		{8, "noprop plot average -o a.png", "![figure](a.png)\n"},
	} {
		b := blocks[i]
		if b.Line != want.line || b.Command() != want.command || b.Body != want.body {
			t.Errorf("block %d: line %d, %q, body %q; want %d, %q, %q", i, b.Line, b.Command(), b.Body, want.line, want.command, want.body)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unterminated", "a\n<!-- noprop table -->\n| x |\n", "line 2: the block has no"},
		{"end alone", "<!-- end -->\n", "line 1: <!-- end --> without"},
		{"nested", "<!-- noprop table -->\n<!-- noprop plot -->\n<!-- end -->\n", "line 2: a block starts inside the block of line 1"},
		{"no command", "<!-- noprop  -->\n<!-- end -->\n", "line 1: the marker names no command"},
		{"marker not closed", "<!-- noprop table\n<!-- end -->\n", "line 1: the marker does not end"},
		{"quote not closed", "<!-- noprop plot compare --reference \"a=1:2 -->\n<!-- end -->\n", "line 1: a double quote is not closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	out, err := Render([]byte(doc), func(b Block) (string, error) {
		if b.Args[0] == "table" {
			return "| new |\n| --- |", nil // a missing final newline is added
		}
		return b.Body, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(doc, "| old |\n", "| new |\n| --- |\n", 1)
	if string(out) != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", out, want)
	}
	// Rendering what a block holds gives the document back.
	same, err := Render([]byte(doc), func(b Block) (string, error) { return b.Body, nil })
	if err != nil || string(same) != doc {
		t.Errorf("identity render: %v\n%s", err, same)
	}
	_, err = Render([]byte(doc), func(b Block) (string, error) { return "", errors.New("boom") })
	if err == nil || !strings.Contains(err.Error(), "line 3 (noprop table --format markdown): boom") {
		t.Errorf("error %v: want the block's line and command", err)
	}
}

// TestQuotedArgs: an argument in double quotes keeps its spaces, and
// Command quotes it again.
func TestQuotedArgs(t *testing.T) {
	blocks, err := Parse([]byte("<!-- noprop plot compare --reference \"Figure 3, CT=19:13\" -o c.png -->\n<!-- end -->\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"plot", "compare", "--reference", "Figure 3, CT=19:13", "-o", "c.png"}
	if got := blocks[0].Args; !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	if got := blocks[0].Command(); got != `noprop plot compare --reference "Figure 3, CT=19:13" -o c.png` {
		t.Errorf("command %s", got)
	}
}
