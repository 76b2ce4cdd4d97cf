package tasks

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The kinds of malformed input the parsers report. Every parse error wraps
// exactly one of them (test with errors.Is) and names the file it came from,
// e.g. "read /d/train-images-idx3-ubyte.gz: truncated: header promises ...".
var (
	// ErrTruncated: the file holds fewer bytes than its header promises, or a
	// record file's size is not a whole number of records, or it is empty.
	ErrTruncated = errors.New("truncated")
	// ErrWrongMagic: the idx magic number is not the one for the expected
	// kind of file.
	ErrWrongMagic = errors.New("wrong magic")
	// ErrDimension: the header's dimensions are zero, absurd, or not the ones
	// the dataset requires (e.g. MNIST images that are not 28x28).
	ErrDimension = errors.New("dimension mismatch")
	// ErrCountMismatch: an image file and its label file hold different
	// numbers of examples.
	ErrCountMismatch = errors.New("count mismatch")
	// ErrLabelRange: a label is outside 0..NumClasses-1.
	ErrLabelRange = errors.New("label out of range")
	// ErrTrailingData: bytes follow the data the header promises, or follow
	// the end of the gzip stream.
	ErrTrailingData = errors.New("trailing garbage")
	// ErrCorruptGzip: the file starts with the gzip magic but is not a valid
	// gzip stream (bad header, corrupt deflate data, CRC mismatch, cut short).
	ErrCorruptGzip = errors.New("corrupt gzip")
)

// formatError is one malformed-input problem: its kind (one of the Err*
// sentinels above), a human-readable detail, and an optional cause.
type formatError struct {
	kind   error
	detail string
	cause  error
}

func (e *formatError) Error() string { return e.kind.Error() + ": " + e.detail }

func (e *formatError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.kind, e.cause}
	}
	return []error{e.kind}
}

func badf(kind error, format string, args ...any) error {
	return &formatError{kind: kind, detail: fmt.Sprintf(format, args...)}
}

// gzipMaxRatio bounds how many bytes one stored byte can inflate to. Deflate
// cannot exceed about 1032:1; the margin keeps the bound safe.
const gzipMaxRatio = 1100

// source is the decoded byte stream of one data file, gzipped or raw.
type source struct {
	r     io.Reader
	gz    bool
	size  int64 // bytes of the file as stored
	bound int64 // upper bound on the decoded bytes (exact for a raw file)
	hint  int64 // likely decoded bytes: exact for raw, gzip ISIZE otherwise; -1 if unknown
	n     int64 // decoded bytes consumed so far
}

// openSource opens path and returns its decoded stream; gzip is detected by
// its magic bytes, not by the file name.
func openSource(path string) (*source, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, nil, fmt.Errorf("is a directory")
	}
	src, err := newSource(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return src, f.Close, nil
}

// newSource wraps rs (holding size bytes) as a decoded stream.
func newSource(rs io.ReadSeeker, size int64) (*source, error) {
	var magic [2]byte
	k, err := io.ReadFull(rs, magic[:])
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if k < 2 || magic != [2]byte{0x1f, 0x8b} {
		return &source{r: bufio.NewReaderSize(rs, 1<<20), size: size, bound: size, hint: size}, nil
	}
	bound := size*gzipMaxRatio + 1<<16
	hint := int64(-1)
	if size >= 18 { // smallest possible gzip member
		var tail [4]byte
		if _, err := rs.Seek(size-4, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(rs, tail[:]); err != nil {
			return nil, err
		}
		if _, err := rs.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		// ISIZE: the uncompressed size mod 2^32 of the last member.
		hint = min(int64(binary.LittleEndian.Uint32(tail[:])), bound)
	}
	br := bufio.NewReaderSize(rs, 1<<20)
	z, err := gzip.NewReader(br)
	if err != nil {
		return nil, gzipError(err, 0)
	}
	z.Multistream(false)
	return &source{r: &gzReader{z: z, br: br}, gz: true, size: size, bound: bound, hint: hint}, nil
}

// gzReader decodes concatenated gzip members and reports anything after the
// last member that is not another member as trailing garbage.
type gzReader struct {
	z   *gzip.Reader
	br  *bufio.Reader
	out int64
	eof bool
}

func (g *gzReader) Read(p []byte) (int, error) {
	for {
		if g.eof {
			return 0, io.EOF
		}
		n, err := g.z.Read(p)
		g.out += int64(n)
		if err == nil || (err == io.EOF && n > 0) {
			return n, nil
		}
		if err != io.EOF {
			return n, gzipError(err, g.out)
		}
		// End of one member: what follows must be nothing or another member.
		next, perr := g.br.Peek(2)
		if len(next) == 0 {
			if perr != nil && perr != io.EOF {
				return 0, perr
			}
			g.eof = true
			return 0, io.EOF
		}
		if len(next) == 2 && next[0] == 0x1f && next[1] == 0x8b {
			if err := g.z.Reset(g.br); err != nil {
				return 0, gzipError(err, g.out)
			}
			g.z.Multistream(false)
			continue
		}
		extra, _ := io.Copy(io.Discard, g.br)
		return 0, badf(ErrTrailingData, "%d bytes after the end of the gzip stream", extra)
	}
}

// gzipError turns an error of compress/gzip into an ErrCorruptGzip error.
func gzipError(err error, decoded int64) error {
	var detail string
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		detail = fmt.Sprintf("compressed stream ends early (file cut short) after %d decoded bytes", decoded)
	case errors.Is(err, gzip.ErrChecksum):
		detail = fmt.Sprintf("CRC-32 or size check failed after %d decoded bytes", decoded)
	case errors.Is(err, gzip.ErrHeader):
		detail = "invalid gzip header"
	case errors.As(err, &corrupt):
		detail = fmt.Sprintf("corrupt deflate data at compressed offset %d (after %d decoded bytes)", int64(corrupt), decoded)
	default:
		detail = err.Error()
	}
	return &formatError{kind: ErrCorruptGzip, detail: detail, cause: err}
}

// readFull reads len(buf) decoded bytes. A clean end of data gives io.EOF
// (nothing read) or io.ErrUnexpectedEOF (part read); gzip damage gives an
// ErrCorruptGzip error.
func (s *source) readFull(buf []byte) (int, error) {
	n, err := io.ReadFull(s.r, buf)
	s.n += int64(n)
	return n, err
}

// rest counts the decoded bytes left in the stream.
func (s *source) rest() (int64, error) {
	n, err := io.Copy(io.Discard, s.r)
	s.n += n
	return n, err
}

// expectEnd checks that nothing follows the data; after is what the data
// was, for the message.
func (s *source) expectEnd(after string) error {
	extra, err := s.rest()
	if err != nil {
		return err
	}
	if extra > 0 {
		return badf(ErrTrailingData, "%d bytes after %s", extra, after)
	}
	return nil
}

// The idx magic numbers: 0x0000 then type 0x08 (unsigned byte) then the
// number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// Limits above which an idx header is taken as corrupt rather than huge.
const (
	maxIDXCount     = 1 << 28 // examples in one file
	maxIDXImageSize = 1 << 24 // pixels in one image
)

// pixelScale maps a byte to its [0,1] value v/255.
var pixelScale = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

func describeIDXMagic(m uint32) string {
	switch m {
	case idxImagesMagic:
		return "idx3 unsigned-byte images"
	case idxLabelsMagic:
		return "idx1 unsigned-byte labels"
	}
	if m>>16 == 0 && m&0xff00 >= 0x0800 && m&0xff00 <= 0x0e00 {
		return fmt.Sprintf("idx type 0x%02x with %d dimensions", (m>>8)&0xff, m&0xff)
	}
	if m>>16 == 0x1f8b {
		return "gzip magic inside the decoded data: gzipped twice?"
	}
	return "not an idx file"
}

// readIDXHeader reads the magic and the dims of an idx file whose magic
// must be want, with ndims dimensions.
func readIDXHeader(s *source, want uint32, ndims int) ([]uint64, error) {
	hdr := make([]byte, 4+4*ndims)
	n, err := s.readFull(hdr)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if n >= 4 {
			if m := binary.BigEndian.Uint32(hdr); m != want {
				return nil, badf(ErrWrongMagic, "magic 0x%08x (%s), want 0x%08x (%s)", m, describeIDXMagic(m), want, describeIDXMagic(want))
			}
		}
		return nil, badf(ErrTruncated, "file holds %d bytes, shorter than the %d-byte %s header", n, len(hdr), describeIDXMagic(want))
	}
	if err != nil {
		return nil, err
	}
	if m := binary.BigEndian.Uint32(hdr); m != want {
		return nil, badf(ErrWrongMagic, "magic 0x%08x (%s), want 0x%08x (%s)", m, describeIDXMagic(m), want, describeIDXMagic(want))
	}
	dims := make([]uint64, ndims)
	for i := range dims {
		dims[i] = uint64(binary.BigEndian.Uint32(hdr[4+4*i:]))
	}
	return dims, nil
}

// decodeIDXImages decodes an idx3 unsigned-byte image file. A zero want
// accepts any sane image size; otherwise want must be {1, H, W} and the
// header must match it.
func decodeIDXImages(s *source, want Shape) ([]float32, Shape, error) {
	if want != (Shape{}) && (want.C != 1 || want.H <= 0 || want.W <= 0) {
		return nil, Shape{}, fmt.Errorf("idx images: invalid wanted shape %v: idx3 images are 1xHxW", want)
	}
	dims, err := readIDXHeader(s, idxImagesMagic, 3)
	if err != nil {
		return nil, Shape{}, err
	}
	// The dims are below 2^32, so the products checked here (at most 2^64
	// before the limits are known to hold) are done in steps that cannot
	// overflow.
	count, rows, cols := dims[0], dims[1], dims[2]
	switch {
	case count == 0 || rows == 0 || cols == 0:
		return nil, Shape{}, badf(ErrDimension, "header has a zero dimension: %d images of %dx%d", count, rows, cols)
	case count > maxIDXCount:
		return nil, Shape{}, badf(ErrDimension, "header promises an absurd %d images (limit %d)", count, maxIDXCount)
	case rows > maxIDXImageSize || cols > maxIDXImageSize || rows*cols > maxIDXImageSize:
		return nil, Shape{}, badf(ErrDimension, "header promises absurd %dx%d images (limit %d pixels)", rows, cols, maxIDXImageSize)
	case want != (Shape{}) && (rows != uint64(want.H) || cols != uint64(want.W)):
		return nil, Shape{}, badf(ErrDimension, "images are %dx%d, want %dx%d", rows, cols, want.H, want.W)
	}
	shape := Shape{C: 1, H: int(rows), W: int(cols)}
	promised := int64(count * rows * cols) // at most 2^52
	truncated := func(holds int64) error {
		return badf(ErrTruncated, "header promises %d images of %dx%d (%d bytes), file holds %d", count, rows, cols, promised, holds)
	}
	if promised > s.bound-s.n {
		// The file cannot hold that much: count what it holds, allocate nothing.
		holds, err := s.rest()
		if err != nil {
			return nil, Shape{}, err
		}
		return nil, Shape{}, truncated(holds)
	}
	x := make([]float32, promised)
	buf := make([]byte, min(promised, 1<<16))
	for off := int64(0); off < promised; {
		n, err := s.readFull(buf[:min(int64(len(buf)), promised-off)])
		for i, v := range buf[:n] {
			x[off+int64(i)] = pixelScale[v]
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, Shape{}, truncated(off)
		}
		if err != nil {
			return nil, Shape{}, err
		}
	}
	if err := s.expectEnd(fmt.Sprintf("the %d images the header promises", count)); err != nil {
		return nil, Shape{}, err
	}
	return x, shape, nil
}

// decodeIDXLabels decodes an idx1 unsigned-byte label file whose labels must
// be in 0..numClasses-1.
func decodeIDXLabels(s *source, numClasses int) ([]int, error) {
	if numClasses <= 0 || numClasses > 256 {
		return nil, fmt.Errorf("idx labels: invalid number of classes %d", numClasses)
	}
	dims, err := readIDXHeader(s, idxLabelsMagic, 1)
	if err != nil {
		return nil, err
	}
	count := dims[0]
	switch {
	case count == 0:
		return nil, badf(ErrDimension, "header promises zero labels")
	case count > maxIDXCount:
		return nil, badf(ErrDimension, "header promises an absurd %d labels (limit %d)", count, maxIDXCount)
	}
	truncated := func(holds int64) error {
		return badf(ErrTruncated, "header promises %d labels (%d bytes), file holds %d", count, count, holds)
	}
	if int64(count) > s.bound-s.n {
		holds, err := s.rest()
		if err != nil {
			return nil, err
		}
		return nil, truncated(holds)
	}
	raw := make([]byte, int(count))
	n, err := s.readFull(raw)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, truncated(int64(n))
	}
	if err != nil {
		return nil, err
	}
	y := make([]int, count)
	for i, v := range raw {
		if int(v) >= numClasses {
			return nil, badf(ErrLabelRange, "label %d (0-based) is %d, want 0..%d", i, v, numClasses-1)
		}
		y[i] = int(v)
	}
	if err := s.expectEnd(fmt.Sprintf("the %d labels the header promises", count)); err != nil {
		return nil, err
	}
	return y, nil
}

// withFile runs decode on the decoded stream of path and prefixes any error
// with "read PATH: ".
func withFile[T any](path string, decode func(*source) (T, error)) (T, error) {
	var zero T
	src, closeFn, err := openSource(path)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", path, err)
	}
	defer closeFn()
	v, err := decode(src)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

// ReadIDXImages reads an idx3 unsigned-byte image file (magic 0x00000803),
// gzipped or raw (told apart by the gzip magic bytes), and returns its pixels
// as float32 in [0,1] (v/255), one row of shape.Size() values per image.
//
// want is the required image shape, {1, H, W}; the zero Shape accepts any
// size. Malformed input (truncated, wrong magic, zero/absurd/unwanted
// dimensions, trailing bytes, corrupt gzip) is an error naming path and
// wrapping one of the Err* kinds of this package.
func ReadIDXImages(path string, want Shape) (x []float32, shape Shape, err error) {
	type result struct {
		x     []float32
		shape Shape
	}
	r, err := withFile(path, func(s *source) (result, error) {
		x, shape, err := decodeIDXImages(s, want)
		return result{x, shape}, err
	})
	return r.x, r.shape, err
}

// ReadIDXLabels reads an idx1 unsigned-byte label file (magic 0x00000801),
// gzipped or raw, whose labels must lie in 0..numClasses-1.
func ReadIDXLabels(path string, numClasses int) ([]int, error) {
	return withFile(path, func(s *source) ([]int, error) { return decodeIDXLabels(s, numClasses) })
}

// ReadIDXSet reads a pair of idx image and label files (see ReadIDXImages
// and ReadIDXLabels) into a Set; the two files must hold the same number of
// examples.
func ReadIDXSet(imagesPath, labelsPath string, want Shape, numClasses int) (Set, error) {
	x, shape, err := ReadIDXImages(imagesPath, want)
	if err != nil {
		return Set{}, err
	}
	y, err := ReadIDXLabels(labelsPath, numClasses)
	if err != nil {
		return Set{}, err
	}
	if n := len(x) / shape.Size(); n != len(y) {
		return Set{}, fmt.Errorf("read %s and %s: %w", imagesPath, labelsPath,
			badf(ErrCountMismatch, "%s holds %d images but %s holds %d labels", imagesPath, n, labelsPath, len(y)))
	}
	return Set{X: x, Y: y, Shape: shape}, nil
}
