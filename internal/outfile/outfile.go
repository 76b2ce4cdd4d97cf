// Package outfile writes the files commands are asked for (exports,
// figures, reports, job scripts) with one rule for every command: a
// regular file (or a new one) is written to a temporary file beside it and
// renamed over it, so a reader never sees half a file and a failed write
// leaves the old one; a path that is not a regular file (a FIFO, a device
// such as /dev/stdout) is written in place, never replaced; a symbolic
// link is followed and its target written by the same rule. Missing parent
// folders are created.
package outfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Write writes path with write, by the package's rule, with mode for a
// new or replaced regular file.
func Write(path string, mode os.FileMode, write func(io.Writer) error) error {
	target, err := Target(path)
	if err != nil {
		return err
	}
	if st, err := os.Stat(target); err == nil {
		switch {
		case st.IsDir():
			return fmt.Errorf("write %s: it is a folder; name a file", path)
		case !st.Mode().IsRegular():
			return inPlace(path, target, write)
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		if perr := checkParent(path, target); perr != nil {
			return perr
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*")
	if err != nil {
		if perr := checkParent(path, target); perr != nil {
			return perr
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Target returns the file that writing path writes: path itself, or, when
// path is a symbolic link, the file its links end at, which need not exist
// yet (writing creates it there, as a shell redirection would, rather than
// replacing the link).
func Target(path string) (string, error) {
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		return resolved, nil
	}
	p := path
	for range maxLinks {
		st, err := os.Lstat(p)
		if err != nil || st.Mode()&os.ModeSymlink == 0 {
			return p, nil // missing or not a link: the write says what is wrong
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("write %s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			dir := filepath.Dir(p)
			if real, err := filepath.EvalSymlinks(dir); err == nil {
				dir = real // ".." in the link is relative to where the folder really is
			}
			link = filepath.Join(dir, link)
		}
		p = link
	}
	return "", fmt.Errorf("write %s: its symbolic links lead round in a loop; name a file or fix the links", path)
}

// maxLinks is how many symbolic links Target follows, as Linux does.
const maxLinks = 40

// Check reports the error Write would give for path before anything is
// written: a folder, symbolic links in a loop, a parent that is not a
// folder or that this user may not write in. A command that writes its
// output only at the end of long work checks it first.
func Check(path string) error {
	target, err := Target(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(target)
	switch {
	case err == nil && st.IsDir():
		return fmt.Errorf("write %s: it is a folder; name a file", path)
	case err == nil && !st.Mode().IsRegular():
		return nil // written in place: opening it is the check
	}
	return checkParent(path, target)
}

// checkParent checks the folders of target, a regular file or a missing
// one: the nearest that exists must be a folder this user may write in,
// since Write creates the missing ones below it and its temporary file.
func checkParent(path, target string) error {
	dir := filepath.Dir(target)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("write %s: %s is not a folder; name a file in a folder", path, dir)
			}
			if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("write %s: folder %s is read-only for this user; name a file in a folder you may write in", path, dir)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("write %s: %w", path, err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// inPlace writes a path that is not a regular file (a FIFO, a device)
// through it, as a shell redirection would.
func inPlace(path, target string, write func(io.Writer) error) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
