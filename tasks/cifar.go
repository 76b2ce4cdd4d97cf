package tasks

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// CIFARShape is the shape of one CIFAR image: three 32x32 planes R, G, B.
var CIFARShape = Shape{C: 3, H: 32, W: 32}

// cifarPixels is the number of pixel bytes in one CIFAR record.
const cifarPixels = 3 * 32 * 32

// CIFAR100Labels selects which of the two labels of a CIFAR-100 record
// becomes Set.Y.
type CIFAR100Labels int

const (
	// CIFAR100Fine selects the 100 fine labels (0..99).
	CIFAR100Fine CIFAR100Labels = iota
	// CIFAR100Coarse selects the 20 coarse labels, the superclasses (0..19).
	CIFAR100Coarse
)

// cifarFormat describes one binary record layout: labelBytes label bytes,
// each with its own number of classes, then the 3072 pixel bytes.
type cifarFormat struct {
	labelNames []string // what each label byte is, for messages
	classes    []int    // classes of each label byte
	use        int      // which label byte becomes Y
}

func (f cifarFormat) recordSize() int { return len(f.classes) + cifarPixels }

var cifar10Format = cifarFormat{labelNames: []string{"label"}, classes: []int{10}}

func cifar100Format(labels CIFAR100Labels) cifarFormat {
	return cifarFormat{labelNames: []string{"coarse label", "fine label"}, classes: []int{20, 100}, use: 1 - int(labels)}
}

// cifarHint is the number of records src likely holds, for allocation.
func cifarHint(src *source, f cifarFormat) int {
	if src.hint < 0 {
		return 0
	}
	return int(src.hint / int64(f.recordSize()))
}

// decodeCIFAR appends the records of src to x and y.
func decodeCIFAR(src *source, f cifarFormat, x []float32, y []int) ([]float32, []int, error) {
	rs := f.recordSize()
	nlab := len(f.classes)
	if !src.gz && src.size%int64(rs) != 0 {
		return x, y, badf(ErrTruncated, "file size %d is not a multiple of the %d-byte record (%d records + %d bytes)",
			src.size, rs, src.size/int64(rs), src.size%int64(rs))
	}
	buf := make([]byte, rs*256)
	records := 0
	for {
		n, err := src.readFull(buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return x, y, err
		}
		whole := n / rs
		for r := range whole {
			rec := buf[r*rs : (r+1)*rs]
			for k, c := range f.classes {
				if int(rec[k]) >= c {
					return x, y, badf(ErrLabelRange, "record %d (0-based) has %s %d, want 0..%d", records+r, f.labelNames[k], rec[k], c-1)
				}
			}
			y = append(y, int(rec[f.use]))
			start := len(x)
			x = slices.Grow(x, cifarPixels)[:start+cifarPixels]
			row := x[start:]
			for i, v := range rec[nlab:] {
				row[i] = pixelScale[v]
			}
		}
		records += whole
		if n%rs != 0 {
			return x, y, badf(ErrTruncated, "file holds %d bytes, not a multiple of the %d-byte record (%d records + %d bytes)",
				src.n, rs, records, n%rs)
		}
		if err != nil { // io.EOF or io.ErrUnexpectedEOF at a record boundary
			break
		}
	}
	if records == 0 {
		return x, y, badf(ErrTruncated, "empty file: no %d-byte records", rs)
	}
	return x, y, nil
}

// readCIFARFiles reads the record files paths, in order, into one Set,
// allocating X once when the sizes are known up front.
func readCIFARFiles(f cifarFormat, paths []string) (Set, error) {
	if len(paths) == 0 {
		return Set{}, errors.New("read CIFAR: no files given")
	}
	type opened struct {
		src   *source
		close func() error
	}
	files := make([]opened, 0, len(paths))
	defer func() {
		for _, o := range files {
			o.close()
		}
	}()
	total := 0
	for _, p := range paths {
		src, closeFn, err := openSource(p)
		if err != nil {
			return Set{}, fmt.Errorf("read %s: %w", p, err)
		}
		files = append(files, opened{src, closeFn})
		total += cifarHint(src, f)
	}
	x := make([]float32, 0, total*cifarPixels)
	y := make([]int, 0, total)
	for i, o := range files {
		var err error
		if x, y, err = decodeCIFAR(o.src, f, x, y); err != nil {
			return Set{}, fmt.Errorf("read %s: %w", paths[i], err)
		}
	}
	return Set{X: x, Y: y, Shape: CIFARShape}, nil
}

// ReadCIFAR10 reads CIFAR-10 binary record files (each record is
// <1 byte label 0..9><3072 pixel bytes>, as in data_batch_N.bin and
// test_batch.bin), gzipped or raw, and returns their records in order as one
// Set of shape 3x32x32 (R, G, B planes) with pixels v/255 in [0,1].
//
// Malformed input (a size that is not a whole number of records, an empty
// file, a label above 9, corrupt gzip, bytes after the gzip stream) is an
// error naming the file and wrapping one of the Err* kinds of this package.
func ReadCIFAR10(paths ...string) (Set, error) {
	return readCIFARFiles(cifar10Format, paths)
}

// ReadCIFAR100 reads a CIFAR-100 binary record file (each record is
// <1 byte coarse label 0..19><1 byte fine label 0..99><3072 pixel bytes>, as
// in train.bin and test.bin), gzipped or raw, keeping the fine or the coarse
// label as Y. Both labels are checked whichever is kept. Pixels and errors
// are as for ReadCIFAR10.
func ReadCIFAR100(path string, labels CIFAR100Labels) (Set, error) {
	if labels != CIFAR100Fine && labels != CIFAR100Coarse {
		return Set{}, fmt.Errorf("read %s: invalid CIFAR100Labels %d", path, labels)
	}
	return readCIFARFiles(cifar100Format(labels), []string{path})
}
