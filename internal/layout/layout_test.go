package layout

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	maxFileLines = 500
	maxFuncLines = 80
)

// exempt are the folders whose code is generated or generates code.
var exempt = []string{filepath.Join("methods", "nn", "gemm", "internal", "gen")}

// root is the repository's root, two folders up.
var root = filepath.Join("..", "..")

func sources(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != root || d.Name() == "testdata" || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func exempted(p string) bool {
	for _, e := range exempt {
		if strings.Contains(p, e) {
			return true
		}
	}
	return false
}

// TestSizes: no source file (tests aside) over 500 lines, no function over
// 80.
func TestSizes(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range sources(t) {
		if strings.HasSuffix(p, "_test.go") || exempted(p) {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s: %d lines, more than %d: split it by concern", p, n, maxFileLines)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				return true
			}
			if lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; lines > maxFuncLines {
				t.Errorf("%s:%d: func %s has %d lines, more than %d", p, fset.Position(fn.Pos()).Line, fn.Name.Name, lines, maxFuncLines)
			}
			return true
		})
	}
}

// docRef is a document cited as docs/<name>.md; outside is one of the
// documents the project was written from, which a clone does not hold.
var (
	docRef  = regexp.MustCompile(`docs/([A-Za-z][A-Za-z0-9_-]*\.md)\b`)
	outside = regexp.MustCompile(`\b(noprop|continual|perf|baselines|design)\.md\b`)
)

// TestCitedDocumentsExist: every docs/<name>.md a comment of a source file
// cites exists, and no comment cites a document outside the repository.
func TestCitedDocumentsExist(t *testing.T) {
	fset := token.NewFileSet()
	for _, p := range sources(t) {
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, cg := range f.Comments {
			text := cg.Text()
			for _, m := range docRef.FindAllStringSubmatch(text, -1) {
				if _, err := os.Stat(filepath.Join(root, "docs", m[1])); err != nil {
					t.Errorf("%s:%d cites %s, which is not in docs/", p, fset.Position(cg.Pos()).Line, m[0])
				}
			}
			for _, m := range outside.FindAllString(strings.ReplaceAll(text, "docs/", "docs:"), -1) {
				if _, err := os.Stat(filepath.Join(root, "docs", m)); err != nil {
					t.Errorf("%s:%d cites %s, a document outside the repository", p, fset.Position(cg.Pos()).Line, m)
				}
			}
		}
	}
}
