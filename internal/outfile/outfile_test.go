package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/noprop/noprop/internal/specialfile"

	"github.com/noprop/noprop/internal/testuser"
)

// leftovers fails the test when dir holds a temporary file of Write.
func leftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".") {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

func TestWriteFollowsTheRule(t *testing.T) {
	const content = "new content\n"
	tests := []struct {
		name string
		// setup makes what the output path names in dir and returns the
		// path to write.
		setup func(t *testing.T, dir string) string
		// check checks dir after the write; read is what a FIFO's reader got.
		check func(t *testing.T, dir, path string)
	}{
		{"new file", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "out.csv")
		}, func(t *testing.T, dir, path string) {
			wantFile(t, path, content, 0o640)
		}},
		{"missing parent folders", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "a", "b", "out.csv")
		}, func(t *testing.T, dir, path string) {
			wantFile(t, path, content, 0o640)
		}},
		{"regular file replaced", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "out.csv")
			writeFile(t, path, "an older, longer content\n")
			return path
		}, func(t *testing.T, dir, path string) {
			wantFile(t, path, content, 0o640)
		}},
		{"symbolic link to a file", func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "real.csv"), "old\n")
			return symlink(t, "real.csv", filepath.Join(dir, "link.csv"))
		}, func(t *testing.T, dir, path string) {
			wantLink(t, path, "real.csv")
			wantFile(t, filepath.Join(dir, "real.csv"), content, 0o640)
		}},
		{"chain of links, relative through a linked folder", func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "data", "real.csv"), "old\n")
			mkdir(t, filepath.Join(dir, "data", "sub"))
			symlink(t, "../real.csv", filepath.Join(dir, "data", "sub", "up.csv"))
			symlink(t, filepath.Join("data", "sub"), filepath.Join(dir, "sublink"))
			return symlink(t, filepath.Join("sublink", "up.csv"), filepath.Join(dir, "link.csv"))
		}, func(t *testing.T, dir, path string) {
			wantLink(t, path, filepath.Join("sublink", "up.csv"))
			wantLink(t, filepath.Join(dir, "data", "sub", "up.csv"), "../real.csv")
			wantFile(t, filepath.Join(dir, "data", "real.csv"), content, 0o640)
		}},
		{"dangling link: its target is created", func(t *testing.T, dir string) string {
			return symlink(t, filepath.Join("new", "real.csv"), filepath.Join(dir, "link.csv"))
		}, func(t *testing.T, dir, path string) {
			wantLink(t, path, filepath.Join("new", "real.csv"))
			wantFile(t, filepath.Join(dir, "new", "real.csv"), content, 0o640)
		}},
		{"character device written in place", func(t *testing.T, dir string) string {
			path := filepath.Join(dir, "null")
			specialfile.MknodNull(t, path)
			return path
		}, func(t *testing.T, dir, path string) {
			wantMode(t, path, os.ModeDevice|os.ModeCharDevice)
		}},
		{"link to a character device", func(t *testing.T, dir string) string {
			specialfile.MknodNull(t, filepath.Join(dir, "null"))
			return symlink(t, "null", filepath.Join(dir, "out"))
		}, func(t *testing.T, dir, path string) {
			wantLink(t, path, "null")
			wantMode(t, filepath.Join(dir, "null"), os.ModeDevice|os.ModeCharDevice)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			if err := Check(path); err != nil {
				t.Errorf("Check: %v", err)
			}
			if err := Write(path, 0o640, func(w io.Writer) error {
				_, err := io.WriteString(w, content)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir, path)
			leftovers(t, dir)
		})
	}
}

func TestWriteFIFOInPlace(t *testing.T) {
	for _, link := range []bool{false, true} {
		name := map[bool]string{false: "FIFO", true: "link to a FIFO"}[link]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "pipe")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			path := fifo
			if link {
				path = symlink(t, "pipe", filepath.Join(dir, "out.csv"))
			}
			wait := specialfile.ReadFIFO(t, fifo)
			err := Write(path, 0o644, func(w io.Writer) error {
				_, err := io.WriteString(w, "through the pipe\n")
				return err
			})
			got := wait()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "through the pipe\n" {
				t.Errorf("the reader got %q", got)
			}
			wantMode(t, fifo, os.ModeNamedPipe)
			if link {
				wantLink(t, path, "pipe")
			}
			leftovers(t, dir)
		})
	}
}

func TestWriteRefusesWithOneLine(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  string
	}{
		{"folder", func(t *testing.T, dir string) string {
			mkdir(t, filepath.Join(dir, "out"))
			return filepath.Join(dir, "out")
		}, "it is a folder; name a file"},
		{"link to a folder", func(t *testing.T, dir string) string {
			mkdir(t, filepath.Join(dir, "out"))
			return symlink(t, "out", filepath.Join(dir, "link"))
		}, "it is a folder; name a file"},
		{"links in a loop", func(t *testing.T, dir string) string {
			symlink(t, "b", filepath.Join(dir, "a"))
			return symlink(t, "a", filepath.Join(dir, "b"))
		}, "loop"},
		{"parent is a file", func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "file"), "x")
			return filepath.Join(dir, "file", "out.csv")
		}, "file is not a folder; name a file in a folder"},
		{"grandparent is a file", func(t *testing.T, dir string) string {
			writeFile(t, filepath.Join(dir, "file"), "x")
			return filepath.Join(dir, "file", "sub", "out.csv")
		}, "file is not a folder; name a file in a folder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			errCheck := Check(path)
			errWrite := Write(path, 0o644, func(w io.Writer) error {
				_, err := io.WriteString(w, "x")
				return err
			})
			for _, err := range []error{errCheck, errWrite} {
				if err == nil {
					t.Fatal("no error")
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "write "+path) || strings.Contains(msg, "\n") {
					t.Errorf("error %q is not one line naming %s", msg, path)
				}
			}
			for _, err := range []error{errCheck, errWrite} {
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%q does not say %q", err, tc.want)
				}
			}
			leftovers(t, dir)
		})
	}
}

// TestReadOnlyFolder: as a user who may not write in the folder, Check and
// Write say so in one line and the file stays.
func TestReadOnlyFolder(t *testing.T) {
	testuser.Run(t, func(t *testing.T) string {
		dir := testuser.TempDir(t)
		writeFile(t, filepath.Join(dir, "ro", "out.csv"), "old\n")
		if err := os.Chmod(filepath.Join(dir, "ro"), 0o555); err != nil {
			t.Fatal(err)
		}
		return dir
	}, func(t *testing.T, dir string) {
		path := filepath.Join(dir, "ro", "out.csv")
		want := "write " + path + ": folder " + filepath.Join(dir, "ro") + " is read-only for this user; name a file in a folder you may write in"
		if err := Check(path); err == nil || err.Error() != want {
			t.Errorf("Check: %v, want %q", err, want)
		}
		err := Write(path, 0o644, func(w io.Writer) error {
			_, err := io.WriteString(w, "new\n")
			return err
		})
		if err == nil || err.Error() != want {
			t.Errorf("Write: %v, want %q", err, want)
		}
		if b, _ := os.ReadFile(path); string(b) != "old\n" {
			t.Errorf("%s holds %q", path, b)
		}
	})
}

// TestFailedWriteKeepsTheOldFile: a write that fails leaves the file as it
// was and no temporary file.
func TestFailedWriteKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	writeFile(t, path, "old\n")
	boom := errors.New("boom")
	err := Write(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	wantFile(t, path, "old\n", 0o644)
	leftovers(t, dir)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	mkdir(t, filepath.Dir(path))
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) string {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func wantFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm() != mode {
		t.Errorf("%s: mode %v, want a regular file of mode %v", path, st.Mode(), mode)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("%s holds %q, want %q", path, b, content)
	}
}

func wantLink(t *testing.T, path, target string) {
	t.Helper()
	if got, err := os.Readlink(path); err != nil || got != target {
		t.Errorf("%s: link to %q (%v), want it still a link to %q", path, got, err, target)
	}
}

func wantMode(t *testing.T, path string, typ os.FileMode) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != typ {
		t.Errorf("%s is %v, want type %v", path, st.Mode().Type(), typ)
	}
}
