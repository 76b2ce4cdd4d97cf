package tasks

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePNG writes a w×h RGB image whose pixel (x, y) is (v, v+x, v+y).
func writePNG(t *testing.T, path string, w, h int, v uint8) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{R: v, G: v + uint8(x), B: v + uint8(y), A: 255})
		}
	}
	writeImage(t, path, func(f *os.File) error { return png.Encode(f, img) })
}

func writeImage(t *testing.T, path string, enc func(*os.File) error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// tinyFolder makes an image folder of classes "b" and "a" (sorted: a = 0,
// b = 1) with 2 training and 1 test PNG image each, 4×3 pixels.
func tinyFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for c, name := range []string{"b", "a"} {
		for i := range 2 {
			writePNG(t, filepath.Join(dir, "train", name, fmt.Sprintf("%d.png", i)), 4, 3, uint8(100*c+10*i))
		}
		writePNG(t, filepath.Join(dir, "test", name, "0.png"), 4, 3, uint8(100*c+50))
	}
	os.WriteFile(filepath.Join(dir, "train", "a", "notes.txt"), []byte("not an image"), 0o644)
	return dir
}

func TestReadImageFolder(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	dir := tinyFolder(t)
	d, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.ClassNames, ","); got != "a,b" || d.NumClasses != 2 {
		t.Fatalf("classes %q (%d), want a,b in sorted order", got, d.NumClasses)
	}
	if d.Train.Shape != (Shape{C: 3, H: 3, W: 4}) || d.Train.Len() != 4 || d.Test.Len() != 2 {
		t.Fatalf("train %v × %d, test %d; want 3x3x4 × 4 and 2", d.Train.Shape, d.Train.Len(), d.Test.Len())
	}
	// Class a (folder written second, v = 100, 110) comes first, as label 0.
	if want := []int{0, 0, 1, 1}; fmt.Sprint(d.Train.Y) != fmt.Sprint(want) {
		t.Errorf("train labels %v, want %v", d.Train.Y, want)
	}
	row := d.Train.Row(1) // a/1.png: v = 110
	plane := 12
	for _, c := range []struct {
		name string
		at   int
		want uint8
	}{{"R at (0,0)", 0, 110}, {"G at (3,0)", plane + 3, 113}, {"B at (1,2)", 2*plane + 2*4 + 1, 112}} {
		if got, want := row[c.at], float32(c.want)/255; got != want {
			t.Errorf("%s = %v, want %v", c.name, got, want)
		}
	}
	// The second read comes from the cache and is the same.
	again, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(again) != fmt.Sprint(d) {
		t.Error("the cached read differs from the decoded one")
	}
	files, _ := filepath.Glob(filepath.Join(os.Getenv(CacheEnv), "imagefolder-*.bin"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	// A changed image gives another key: the new pixels are read.
	writePNG(t, filepath.Join(dir, "train", "a", "1.png"), 4, 3, 7)
	changed, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := changed.Train.Row(1)[0]; got != float32(7)/255 {
		t.Errorf("after the file changed, R at (0,0) = %v, want 7/255: a stale cache was read", got)
	}
	// A damaged cache file is ignored.
	for _, f := range files {
		os.WriteFile(f, []byte(folderCacheMagic+"garbage"), 0o644)
	}
	writePNG(t, filepath.Join(dir, "train", "a", "1.png"), 4, 3, 110)
	if _, err := ReadImageFolder(dir); err != nil {
		t.Errorf("with a damaged cache file: %v", err)
	}
}

func TestReadImageFolderGray(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	dir := t.TempDir()
	for _, part := range []string{"train", "test"} {
		for c := range 2 {
			img := image.NewGray(image.Rect(0, 0, 2, 2))
			img.Pix[3] = uint8(200 + c)
			writeImage(t, filepath.Join(dir, part, fmt.Sprint(c), "x.png"), func(f *os.File) error { return png.Encode(f, img) })
		}
	}
	d, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Shape != (Shape{C: 1, H: 2, W: 2}) || d.Train.Row(1)[3] != float32(201)/255 {
		t.Errorf("gray: shape %v, last pixel %v; want 1x2x2 and 201/255", d.Train.Shape, d.Train.Row(1)[3])
	}
}

func TestReadImageFolderErrors(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	for _, tc := range []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"bad image", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "train", "b", "1.png"), []byte("\x89PNG broken"), 0o644)
		}, filepath.Join("train", "b", "1.png")},
		{"empty class folder", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "test", "b"))
			os.MkdirAll(filepath.Join(dir, "test", "b"), 0o755)
		}, "holds no .png, .jpg or .jpeg file"},
		{"class missing from test", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "test", "a"))
		}, `class folder "a" of train/ is missing from test/`},
		{"class only in test", func(t *testing.T, dir string) {
			writePNG(t, filepath.Join(dir, "test", "c", "0.png"), 4, 3, 1)
		}, `class folder "c" of test/ is missing from train/`},
		{"other size", func(t *testing.T, dir string) {
			writePNG(t, filepath.Join(dir, "test", "b", "0.png"), 5, 3, 1)
		}, "is 5x3 with 3 channels, want 4x3 with 3"},
		{"one class", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "train", "b"))
		}, "holds 1 class folders, want at least 2"},
		{"no test folder", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, "test"))
		}, "test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tinyFolder(t)
			tc.spoil(t, dir)
			_, err := ReadImageFolder(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
		})
	}
}

// TestFolderDataset: a dataset named folder:PATH is an image folder the
// user brings; its classes are known before any image is decoded.
func TestFolderDataset(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	dir := tinyFolder(t)
	name := FolderPrefix + dir
	if n, err := NumClasses(name); err != nil || n != 2 {
		t.Fatalf("NumClasses = %d, %v; want 2", n, err)
	}
	d, err := Load(name, "")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != name || d.Train.Len() != 4 {
		t.Errorf("dataset %q with %d training images", d.Name, d.Train.Len())
	}
	if _, err := NumClasses(FolderPrefix + filepath.Join(dir, "nothing")); err == nil || !strings.Contains(err.Error(), "train/<class>/") {
		t.Errorf("a missing folder: %v", err)
	}
}

// TestCIFAR10JPEGReal reads a few real images of the JPEG copy of CIFAR-10
// beside the repository: the class folders in CIFAR-10's label order, and
// the per-channel means of a balanced sample near the published training
// statistics (R 0.491, G 0.482, B 0.447), which planes in the wrong order
// or wrong colour conversion would miss.
func TestCIFAR10JPEGReal(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	src, err := findShared(cifar10JPEGSharedDir)
	if err != nil {
		t.Skipf("no JPEG copy of CIFAR-10 beside the repository: %v", err)
	}
	dir := t.TempDir()
	const perClass = 40
	for _, name := range cifar10Names {
		for _, part := range []string{"train", "test"} {
			for i := range perClass {
				b, err := os.ReadFile(filepath.Join(src, part, name, fmt.Sprintf("%04d.jpg", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(dir, part, name), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, part, name, fmt.Sprintf("%04d.jpg", i)), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	d, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.ClassNames) != fmt.Sprint(cifar10Names) || d.Train.Shape != CIFARShape {
		t.Fatalf("classes %v, shape %v", d.ClassNames, d.Train.Shape)
	}
	var mean [3]float64
	for i := range d.Train.Len() {
		row := d.Train.Row(i)
		for c := range 3 {
			for _, v := range row[c*1024 : (c+1)*1024] {
				mean[c] += float64(v)
			}
		}
	}
	want := [3]float64{0.4914, 0.4822, 0.4465}
	for c := range 3 {
		mean[c] /= float64(d.Train.Len() * 1024)
		if math.Abs(mean[c]-want[c]) > 0.02 {
			t.Errorf("channel %d mean %.4f over %d images, want about %.4f", c, mean[c], d.Train.Len(), want[c])
		}
	}
	t.Logf("channel means %.4f", mean)
}

// TestJPEGDecodes: a JPEG written by Go's encoder reads back close to its
// pixels (JPEG is lossy) in R, G, B order.
func TestJPEGDecodes(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	dir := t.TempDir()
	for _, part := range []string{"train", "test"} {
		for c, col := range []color.RGBA{{200, 30, 30, 255}, {30, 30, 200, 255}} {
			img := image.NewRGBA(image.Rect(0, 0, 8, 8))
			for i := range 64 {
				img.Set(i%8, i/8, col)
			}
			writeImage(t, filepath.Join(dir, part, fmt.Sprint(c), "x.jpg"), func(f *os.File) error {
				return jpeg.Encode(f, img, &jpeg.Options{Quality: 95})
			})
		}
	}
	d, err := ReadImageFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	red := d.Train.Row(0)
	if r, b := red[0]*255, red[128]*255; math.Abs(float64(r)-200) > 6 || math.Abs(float64(b)-30) > 6 {
		t.Errorf("red image reads R %.0f, B %.0f; want about 200 and 30", r, b)
	}
}

func TestImageFolderErrKind(t *testing.T) {
	t.Setenv(CacheEnv, "off")
	dir := tinyFolder(t)
	os.WriteFile(filepath.Join(dir, "train", "b", "1.png"), []byte("junk"), 0o644)
	if _, err := ReadImageFolder(dir); !errors.Is(err, ErrImageFolder) {
		t.Errorf("error %v does not wrap ErrImageFolder", err)
	}
}
