package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/noprop/noprop/internal/specialfile"

	"github.com/noprop/noprop/results/figure"
	"github.com/noprop/noprop/results/report"
)

// The tests of this file check that every command writing a file the user
// names follows package outfile's rule: a FIFO or device is written in place
// and stays what it is, a symbolic link stays a link and its target gets the
// content, missing parent folders are created.

// outputCommand is a command that writes a file (or, for report, a folder)
// the user names.
type outputCommand struct {
	name string
	// base is the name of its output in a test's folder.
	base string
	// args is its command line writing to out.
	args func(db, out string) []string
	// file is the file inside out that a case makes a FIFO, a link or a
	// device: out itself, or report's index.html.
	file func(out string) string
	// starts is what the written content begins with.
	starts string
}

var outputCommands = []outputCommand{
	{"export", "cells.csv", func(db, out string) []string {
		return []string{"export", "--db", db, "--what", "cells", "-o", out}
	}, func(out string) string { return out }, "run_id,"},
	{"plot", "matrix.png", func(db, out string) []string {
		return []string{"plot", "matrix", "--db", db, "--method", "backprop", "--scenario", "class", "-o", out}
	}, func(out string) string { return out }, "\x89PNG"},
	{"report", "report", func(db, out string) []string {
		return []string{"report", "--db", db, "--method", "backprop", "--scenario", "class", "-o", out}
	}, func(out string) string { return filepath.Join(out, "index.html") }, "<!DOCTYPE html>"},
}

// wantType checks that path (not followed) is of type typ: 0 for a regular
// file, os.ModeNamedPipe, os.ModeSymlink, ...
func wantType(t *testing.T, path string, typ os.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if st.Mode().Type() != typ {
		t.Errorf("%s is %v afterwards, want type %v", path, st.Mode().Type(), typ)
	}
}

// wantStart checks that the file at path begins with starts.
func wantStart(t *testing.T, path, starts string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
		return
	}
	if !bytes.HasPrefix(b, []byte(starts)) {
		t.Errorf("%s begins %q, want %q", path, b[:min(len(b), 20)], starts)
	}
}

// noTempFiles checks that no temporary file of a write is left in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// outputCase makes something where a command's output goes and checks it
// afterwards.
type outputCase struct {
	name string
	// setup makes the case in dir for a command writing out, where file is
	// the file the case is about; it returns a function that waits for
	// whatever reads the output and returns what it read.
	setup func(t *testing.T, dir, out, file string) (wait func() []byte)
	// check checks the case after the command succeeded.
	check func(t *testing.T, c outputCommand, dir, out, file string, read []byte)
}

var outputCases = []outputCase{
	{"FIFO", func(t *testing.T, dir, out, file string) func() []byte {
		specialfile.Mkfifo(t, file)
		return specialfile.ReadFIFO(t, file)
	}, func(t *testing.T, c outputCommand, dir, out, file string, read []byte) {
		if !bytes.HasPrefix(read, []byte(c.starts)) {
			t.Errorf("the FIFO's reader got %d bytes beginning %q, want %q", len(read), read[:min(len(read), 20)], c.starts)
		}
		wantType(t, file, os.ModeNamedPipe)
	}},
	{"symbolic link to a file", func(t *testing.T, dir, out, file string) func() []byte {
		real := filepath.Join(dir, "real", "target")
		if err := os.MkdirAll(filepath.Dir(real), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(real, []byte("old content"), 0o644); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(filepath.Dir(file), real)
		if err := os.Symlink(rel, file); err != nil {
			t.Fatal(err)
		}
		return nil
	}, func(t *testing.T, c outputCommand, dir, out, file string, _ []byte) {
		wantType(t, file, os.ModeSymlink)
		wantStart(t, filepath.Join(dir, "real", "target"), c.starts)
	}},
	{"character device", func(t *testing.T, dir, out, file string) func() []byte {
		specialfile.MknodNull(t, file)
		return nil
	}, func(t *testing.T, c outputCommand, dir, out, file string, _ []byte) {
		wantType(t, file, os.ModeDevice|os.ModeCharDevice)
	}},
	{"missing parent folders", nil, func(t *testing.T, c outputCommand, dir, out, file string, _ []byte) {
		wantType(t, file, 0)
		wantStart(t, file, c.starts)
	}},
}

// TestOutputsFollowOneRule points export, plot and report at a FIFO, a
// symbolic link, a character device and a path in missing folders.
func TestOutputsFollowOneRule(t *testing.T) {
	db := fixtureDB(t)
	for _, c := range outputCommands {
		for _, oc := range outputCases {
			t.Run(c.name+"/"+oc.name, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, c.base)
				if oc.setup == nil {
					out = filepath.Join(dir, "new", "sub", c.base)
				}
				file := c.file(out)
				var wait func() []byte
				if oc.setup != nil {
					if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
						t.Fatal(err)
					}
					wait = oc.setup(t, dir, out, file)
				}
				code, stdout, stderr := run(t, c.args(db, out)...)
				var read []byte
				if wait != nil {
					read = wait()
				}
				if code != 0 {
					t.Fatalf("%s: status %d: %s", c.name, code, stderr)
				}
				if !strings.Contains(stdout, out) {
					t.Errorf("%s printed %q, want %s named", c.name, stdout, out)
				}
				oc.check(t, c, dir, out, file, read)
				noTempFiles(t, dir)
			})
		}
	}
}

// TestReportIntoALinkedFolder: report -o a symbolic link to a folder
// writes into the folder and leaves the link.
func TestReportIntoALinkedFolder(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "report")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run(t, outputCommands[2].args(db, link)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	wantType(t, link, os.ModeSymlink)
	wantStart(t, filepath.Join(dir, "real", "index.html"), "<!DOCTYPE html>")
	wantType(t, filepath.Join(dir, "real", "figures", "matrix.png"), 0)
}

// TestReportRemovesItsStaleFigures writes a report of every figure, then one
// of runs without training logs or memory into the same folder: the figures
// the second does not draw are gone, every other file stays.
func TestReportRemovesItsStaleFigures(t *testing.T) {
	full := fixtureDB(t)
	dir := t.TempDir()
	bare := filepath.Join(dir, "bare.db")
	storeWithRuns(t, bare, 80, 1, 2).Close()
	out := filepath.Join(dir, "report")
	if code, _, stderr := run(t, "report", "--db", full, "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	for _, k := range figure.Kinds() {
		wantType(t, filepath.Join(out, "figures", string(k)+".png"), 0)
	}
	theirs := map[string]string{
		"notes.txt":               "mine",
		"figures/mine.png":        "mine too",
		"figures/matrix.svg":      "drawn by plot",
		"figures/loss.png.backup": "a copy",
	}
	for name, content := range theirs {
		if err := os.WriteFile(filepath.Join(out, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A link named like a figure is not a file the report wrote.
	terms := filepath.Join(out, "figures", string(figure.Terms)+".png")
	if err := os.Remove(terms); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../notes.txt", terms); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "report", "--db", bare, "-o", out); code != 0 {
		t.Fatal(stderr)
	}
	md, err := os.ReadFile(filepath.Join(out, report.MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	notDrawn := 0
	for _, k := range figure.Kinds() {
		name := "figures/" + string(k) + ".png"
		if k == figure.Terms {
			wantType(t, filepath.Join(out, name), os.ModeSymlink)
			continue
		}
		_, err := os.Lstat(filepath.Join(out, name))
		linked := strings.Contains(string(md), "]("+name+")")
		switch {
		case linked && err != nil:
			t.Errorf("%s is linked from the Markdown report but missing: %v", name, err)
		case !linked && err == nil:
			t.Errorf("%s of the earlier report is still there", name)
		}
		if !linked {
			notDrawn++
		}
	}
	if notDrawn == 0 {
		t.Error("the second report drew every figure; the test needs one it does not draw")
	}
	for name, content := range theirs {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != content {
			t.Errorf("%s: %q, %v; want it left as it was", name, b, err)
		}
	}
}

// TestOutputsRefusedWithOneLine: an output that cannot be written as asked
// is refused with one line, and what was there stays.
func TestOutputsRefusedWithOneLine(t *testing.T) {
	db := fixtureDB(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.db")
	storeWithRuns(t, in, 80, 1).Close()
	folder := filepath.Join(dir, "folder.png")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.db")
	specialfile.Mkfifo(t, fifo)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"export to a folder", []string{"export", "--db", db, "-o", folder}, "write " + folder + ": it is a folder; name a file"},
		{"plot to a folder", []string{"plot", "matrix", "--db", db, "-o", folder}, "write " + folder + ": it is a folder; name a file"},
		{"plot in a file", []string{"plot", "matrix", "--db", db, "-o", filepath.Join(file, "m.png")}, file + " is not a folder; name a file in a folder"},
		{"report to a file", []string{"report", "--db", db, "-o", file}, "write report " + file + ": it is not a folder; name a folder"},
		{"report to a FIFO", []string{"report", "--db", db, "-o", fifo}, "it is not a folder; name a folder"},
		{"merge into a FIFO", []string{"merge", fifo, in}, "merge: " + fifo + " is not a regular file (a FIFO); a database is read back and changed in place, so name a file"},
		{"merge into a folder", []string{"merge", folder, in}, "merge: " + folder + " is a folder; name a database file"},
		{"merge into a file's folder", []string{"merge", filepath.Join(file, "sub", "out.db"), in}, "merge: write " + filepath.Join(file, "sub", "out.db") + ": " + file + " is not a folder; name a file in a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			oneLineError(t, code, stderr, tc.want)
		})
	}
	wantType(t, fifo, os.ModeNamedPipe)
	wantType(t, folder, os.ModeDir)
	if ents, _ := os.ReadDir(folder); len(ents) != 0 {
		t.Errorf("%d files written into %s", len(ents), folder)
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Errorf("%s changed: %q", file, b)
	}
	noTempFiles(t, dir)
}

// TestMergeOutput: merge writes through a symbolic link to a database,
// creates missing folders only once its inputs are open, and refuses a
// device.
func TestMergeOutput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.db")
	storeWithRuns(t, in, 80, 1, 2).Close()

	t.Run("symbolic link", func(t *testing.T) {
		real := filepath.Join(dir, "real.db")
		storeWithRuns(t, real, 90, 3).Close()
		link := filepath.Join(dir, "link.db")
		if err := os.Symlink("real.db", link); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := run(t, "merge", link, in)
		if code != 0 || !strings.Contains(stdout, "2 runs added") {
			t.Fatalf("status %d, stderr %q, stdout %q", code, stderr, stdout)
		}
		wantType(t, link, os.ModeSymlink)
		if code, stdout, _ := run(t, "table", "--db", real); code != 0 || !strings.Contains(stdout, "83.33 ± 3.33") {
			t.Errorf("table of the link's target:\n%s", stdout)
		}
	})

	t.Run("missing folders", func(t *testing.T) {
		out := filepath.Join(dir, "new", "sub", "out.db")
		code, _, stderr := run(t, "merge", out, filepath.Join(dir, "missing.db"))
		oneLineError(t, code, stderr, "missing.db")
		if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
			t.Error("merge created the output's folders before its inputs were open")
		}
		code, stdout, stderr := run(t, "merge", out, in)
		if code != 0 || !strings.Contains(stdout, "2 runs added") {
			t.Fatalf("status %d, stderr %q, stdout %q", code, stderr, stdout)
		}
		wantType(t, out, 0)
	})

	t.Run("character device", func(t *testing.T) {
		dev := filepath.Join(dir, "null.db")
		specialfile.MknodNull(t, dev)
		code, _, stderr := run(t, "merge", dev, in)
		oneLineError(t, code, stderr, "merge: "+dev+" is not a regular file (a character device)")
		wantType(t, dev, os.ModeDevice|os.ModeCharDevice)
	})
}

// TestProfilesFollowTheRule writes --cpuprofile and --memprofile to a FIFO,
// a symbolic link, a character device and a path in missing folders.
func TestProfilesFollowTheRule(t *testing.T) {
	const gzipMagic = "\x1f\x8b"
	for _, flag := range []string{"--cpuprofile", "--memprofile"} {
		for _, oc := range outputCases {
			t.Run(flag+"/"+oc.name, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "prof.out")
				if oc.setup == nil {
					out = filepath.Join(dir, "new", "sub", "prof.out")
				}
				var wait func() []byte
				if oc.setup != nil {
					wait = oc.setup(t, dir, out, out)
				}
				p := profiles{cpu: out}
				if flag == "--memprofile" {
					p = profiles{mem: out}
				}
				stop, err := p.start()
				if err == nil {
					stop()
				}
				var read []byte
				if wait != nil {
					read = wait()
				}
				if err != nil {
					t.Fatal(err)
				}
				oc.check(t, outputCommand{name: flag, starts: gzipMagic}, dir, out, out, read)
				noTempFiles(t, dir)
			})
		}
	}
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		_, err := profiles{mem: dir}.start()
		if err == nil || err.Error() != "--memprofile: write "+dir+": it is a folder; name a file" {
			t.Errorf("error %v, want one line saying to name a file", err)
		}
	})
}
