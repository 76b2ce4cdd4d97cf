package tasks

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // the decoders ReadImageFolder accepts
	_ "image/png"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// ErrImageFolder is wrapped by the errors of ReadImageFolder that are about
// the folder's layout or its images (not the file system's own errors).
var ErrImageFolder = errors.New("bad image folder")

// Limits of an image folder, checked before anything large is allocated.
const (
	maxFolderClasses = 100_000
	maxFolderImages  = 10_000_000
	maxFolderPixels  = 1 << 20 // values of one image (C·H·W)
)

// imageExts are the file extensions ReadImageFolder reads; other files in
// a class folder are ignored.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

// ImageFolderClasses lists the class folders of dir/train in sorted order:
// the class index of each is its position. It reads one directory, so the
// label space is known before any image is decoded.
func ImageFolderClasses(dir string) ([]string, error) {
	train := filepath.Join(dir, "train")
	entries, err := os.ReadDir(train)
	if err != nil {
		return nil, fmt.Errorf("image folder %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	switch {
	case len(names) < 2:
		return nil, fmt.Errorf("image folder %s: %w: %s holds %d class folders, want at least 2", dir, ErrImageFolder, train, len(names))
	case len(names) > maxFolderClasses:
		return nil, fmt.Errorf("image folder %s: %w: %s holds %d class folders (limit %d)", dir, ErrImageFolder, train, len(names), maxFolderClasses)
	}
	slices.Sort(names) // os.ReadDir sorts already; the order is the contract
	return names, nil
}

// ReadImageFolder reads a dataset in the common image-folder layout:
// dir/train/<class>/* and dir/test/<class>/*, PNG or JPEG files, the class
// index of a folder being its position among train's class folders in
// sorted order. Every image must have the size of the first one read;
// grayscale images give one channel and colour images three (R, G, B
// planes), all of one kind. Pixels are v/255 in [0,1], as the binary
// readers give them. Files are decoded once each, in parallel.
//
// A class folder without images, a class of train/ missing from test/ (or
// the other way round), an image that does not decode or whose size or
// kind differs from the first: each is an error that names the file or
// folder and wraps ErrImageFolder.
func ReadImageFolder(dir string) (Dataset, error) {
	classes, err := ImageFolderClasses(dir)
	if err != nil {
		return Dataset{}, err
	}
	testClasses, err := listClassDirs(filepath.Join(dir, "test"))
	if err != nil {
		return Dataset{}, fmt.Errorf("image folder %s: %w", dir, err)
	}
	if !slices.Equal(classes, testClasses) {
		return Dataset{}, fmt.Errorf("image folder %s: %w: %s", dir, ErrImageFolder, classDiff(classes, testClasses))
	}
	var train, test []imageFile
	for c, name := range classes {
		for _, part := range []struct {
			sub  string
			list *[]imageFile
		}{{"train", &train}, {"test", &test}} {
			files, err := listImages(filepath.Join(dir, part.sub, name), c)
			if err != nil {
				return Dataset{}, fmt.Errorf("image folder %s: %w", dir, err)
			}
			*part.list = append(*part.list, files...)
			if len(*part.list) > maxFolderImages {
				return Dataset{}, fmt.Errorf("image folder %s: %w: more than %d images", dir, ErrImageFolder, maxFolderImages)
			}
		}
	}
	key, keyErr := folderKey(dir, classes, train, test)
	c, cached := folderCache{}, false
	if keyErr == nil {
		c, cached = readFolderCache(key, len(train), len(test))
	}
	if !cached {
		// The first training image fixes the shape every other must have.
		if c.shape, err = imageShape(train[0].path); err != nil {
			return Dataset{}, fmt.Errorf("image folder %s: %w", dir, err)
		}
		if c.train, err = decodeImages(train, c.shape); err != nil {
			return Dataset{}, fmt.Errorf("image folder %s: %w", dir, err)
		}
		if c.test, err = decodeImages(test, c.shape); err != nil {
			return Dataset{}, fmt.Errorf("image folder %s: %w", dir, err)
		}
		if keyErr == nil {
			writeFolderCache(key, c) // best effort: a folder is read without it
		}
	}
	return Dataset{Name: filepath.Base(dir), Train: toSet(c.train, train, c.shape), Test: toSet(c.test, test, c.shape),
		NumClasses: len(classes), ClassNames: classes}, nil
}

// toSet turns decoded pixel bytes into a Set with the files' classes.
func toSet(pix []byte, files []imageFile, s Shape) Set {
	set := Set{X: make([]float32, len(pix)), Y: make([]int, len(files)), Shape: s}
	for i, v := range pix {
		set.X[i] = pixelScale[v]
	}
	for i, f := range files {
		set.Y[i] = f.class
	}
	return set
}

// imageFile is one image to read and its class.
type imageFile struct {
	path  string
	class int
}

func listClassDirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// classDiff says how the class folders of train/ and test/ differ.
func classDiff(train, test []string) string {
	var only []string
	for _, c := range train {
		if !slices.Contains(test, c) {
			only = append(only, c)
		}
	}
	if len(only) > 0 {
		return fmt.Sprintf("class folder %s of train/ is missing from test/ (train/ and test/ must hold the same classes)", quoteList(only))
	}
	for _, c := range test {
		if !slices.Contains(train, c) {
			only = append(only, c)
		}
	}
	return fmt.Sprintf("class folder %s of test/ is missing from train/ (train/ and test/ must hold the same classes)", quoteList(only))
}

func quoteList(names []string) string {
	const show = 3
	q := make([]string, 0, show+1)
	for i, n := range names {
		if i == show {
			q = append(q, fmt.Sprintf("and %d more", len(names)-show))
			break
		}
		q = append(q, fmt.Sprintf("%q", n))
	}
	return strings.Join(q, ", ")
}

// listImages lists the image files of one class folder in sorted order.
func listImages(dir string, class int) ([]imageFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []imageFile
	for _, e := range entries {
		if e.IsDir() || !imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			continue
		}
		out = append(out, imageFile{filepath.Join(dir, e.Name()), class})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: class folder %s holds no .png, .jpg or .jpeg file", ErrImageFolder, dir)
	}
	return out, nil
}

// imageShape reads the size and kind of one image from its header.
func imageShape(path string) (Shape, error) {
	f, err := os.Open(path)
	if err != nil {
		return Shape{}, err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return Shape{}, fmt.Errorf("%w: %s: %v", ErrImageFolder, path, err)
	}
	s := Shape{C: channels(cfg.ColorModel), H: cfg.Height, W: cfg.Width}
	if s.H < 1 || s.W < 1 || s.Size() > maxFolderPixels {
		return Shape{}, fmt.Errorf("%w: %s: %dx%d pixels (limit %d values an image)", ErrImageFolder, path, s.W, s.H, maxFolderPixels)
	}
	return s, nil
}

func channels(m color.Model) int {
	switch m {
	case color.GrayModel, color.Gray16Model:
		return 1
	}
	return 3
}

// decodeImages decodes files into pixel bytes of shape s, on every core.
func decodeImages(files []imageFile, s Shape) ([]byte, error) {
	d := s.Size()
	pix := make([]byte, len(files)*d)
	workers := min(runtime.GOMAXPROCS(0), len(files))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		firstAt  = len(files)
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(files); i += workers {
				if err := decodeImage(files[i].path, s, pix[i*d:(i+1)*d]); err != nil {
					mu.Lock()
					if i < firstAt { // report the first bad file in order, whatever the scheduling
						firstAt, firstErr = i, err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return pix, firstErr
}

// decodeImage decodes one file into row as C planes of H×W bytes.
func decodeImage(path string, s Shape, row []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrImageFolder, path, err)
	}
	b := img.Bounds()
	if b.Dx() != s.W || b.Dy() != s.H || channels(img.ColorModel()) != s.C {
		return fmt.Errorf("%w: %s is %dx%d with %d channels, want %dx%d with %d like the first training image",
			ErrImageFolder, path, b.Dx(), b.Dy(), channels(img.ColorModel()), s.W, s.H, s.C)
	}
	plane := s.H * s.W
	switch m := img.(type) {
	case *image.YCbCr: // baseline JPEG: convert without the interface per pixel
		for y := range s.H {
			for x := range s.W {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				k := y*s.W + x
				row[k], row[plane+k], row[2*plane+k] = r, g, bl
			}
		}
	case *image.Gray:
		for y := range s.H {
			for x := range s.W {
				row[y*s.W+x] = m.Pix[m.PixOffset(b.Min.X+x, b.Min.Y+y)]
			}
		}
	default:
		for y := range s.H {
			for x := range s.W {
				k := y*s.W + x
				if s.C == 1 {
					g := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
					row[k] = g.Y
					continue
				}
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				row[k], row[plane+k], row[2*plane+k] = byte(r>>8), byte(g>>8), byte(bl>>8)
			}
		}
	}
	return nil
}
