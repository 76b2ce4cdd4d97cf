// Package testuser runs a test's body as a user without root's rights, so
// that tests of read-only files and folders mean something when the suite
// runs as root, who may write any file.
package testuser

import (
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// dirEnv carries the test's folder to the re-executed test binary.
const dirEnv = "NOPROP_TESTUSER_DIR"

// Run runs a test in two parts. setup runs first, as the user running the
// tests, and returns a folder made with TempDir; body then runs with that
// folder as a user who is not root: in place when the tests do not run as
// root, else in this test binary run again as user nobody for just this
// test, whose failure fails t. setup may change the permissions of what it
// made to whatever the test needs.
func Run(t *testing.T, setup func(t *testing.T) string, body func(t *testing.T, dir string)) {
	t.Helper()
	if dir := os.Getenv(dirEnv); dir != "" {
		body(t, dir)
		return
	}
	dir := setup(t)
	if os.Geteuid() != 0 {
		body(t, dir)
		return
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("running as root, and no user nobody to run as: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	bin := filepath.Join(TempDir(t), filepath.Base(os.Args[0]))
	if err := copyFile(bin, os.Args[0]); err != nil {
		t.Fatalf("copy the test binary where user nobody may run it: %v", err)
	}
	cmd := exec.Command(bin, "-test.run="+pattern(t.Name()), "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), dirEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("as user nobody: %v\n%s", err, out)
	}
}

// TempDir returns a new folder that user nobody may enter, removed when the
// test ends.
func TempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Restore write access so that the folder can be removed.
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}

func copyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pattern is a -test.run pattern that selects exactly the test name.
func pattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}
