package tasks

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxImagesBytes builds an idx3 image file of n h×w images whose pixel k of
// image i is pix(i, k).
func idxImagesBytes(n, h, w int, pix func(i, k int) byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, idxImagesMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, uint32(h))
	b = binary.BigEndian.AppendUint32(b, uint32(w))
	for i := range n {
		for k := range h * w {
			b = append(b, pix(i, k))
		}
	}
	return b
}

// idxHeader builds just an idx header with the given magic and dims.
func idxHeader(magic uint32, dims ...uint32) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return b
}

// idxLabelsBytes builds an idx1 label file.
func idxLabelsBytes(labels []byte) []byte {
	b := idxHeader(idxLabelsMagic, uint32(len(labels)))
	return append(b, labels...)
}

// gzBytes gzips b.
func gzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func pixPattern(i, k int) byte { return byte(i*7 + k*3) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestReadIDXImagesValid(t *testing.T) {
	dir := t.TempDir()
	raw := idxImagesBytes(3, 28, 28, pixPattern)
	z := gzBytes(t, raw)
	// A gzip file of two members (as pigz or cat a.gz b.gz make) is valid.
	multi := cat(gzBytes(t, raw[:1000]), gzBytes(t, raw[1000:]))
	for name, b := range map[string][]byte{"raw": raw, "gzip.bin": z, "multi.gz": multi, "raw-named.gz": raw} {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, dir, name, b)
			x, shape, err := ReadIDXImages(p, Shape{1, 28, 28})
			if err != nil {
				t.Fatal(err)
			}
			if shape != (Shape{1, 28, 28}) || len(x) != 3*784 || cap(x) != len(x) {
				t.Fatalf("shape %v, len %d, cap %d", shape, len(x), cap(x))
			}
			for i := range 3 {
				for k := range 784 {
					if want := float32(pixPattern(i, k)) / 255; x[i*784+k] != want {
						t.Fatalf("image %d pixel %d = %v, want %v", i, k, x[i*784+k], want)
					}
				}
			}
			// The zero Shape accepts the header's size.
			if _, shape, err := ReadIDXImages(p, Shape{}); err != nil || shape != (Shape{1, 28, 28}) {
				t.Fatalf("any shape: %v %v", shape, err)
			}
		})
	}
	p := writeFile(t, dir, "labels.gz", gzBytes(t, idxLabelsBytes([]byte{0, 9, 5})))
	y, err := ReadIDXLabels(p, 10)
	if err != nil || len(y) != 3 || y[0] != 0 || y[1] != 9 || y[2] != 5 {
		t.Fatalf("labels %v, %v", y, err)
	}
	s, err := ReadIDXSet(writeFile(t, dir, "img", raw), p, Shape{1, 28, 28}, 10)
	if err != nil || s.Len() != 3 || s.Shape.Size() != 784 || len(s.X) != 3*784 {
		t.Fatalf("set: len %d, %v", s.Len(), err)
	}
}

// corruptDeflate sets the first deflate block of a gzip file (no optional
// header fields) to the reserved block type 3.
func corruptDeflate(b []byte) []byte {
	b = bytes.Clone(b)
	b[10] = 0x07
	return b
}

// badCRC flips the stored CRC-32 of a one-member gzip file.
func badCRC(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-8] ^= 0xff
	return b
}

func TestReadIDXMalformed(t *testing.T) {
	img2 := idxImagesBytes(2, 28, 28, pixPattern)
	lab := idxLabelsBytes([]byte{1, 2, 3})
	type kind int
	const (
		images kind = iota
		anyImages
		labels
	)
	cases := []struct {
		name   string // also the file name
		data   []byte
		read   kind
		kind   error
		phrase string
	}{
		{"truncated-images-idx3-ubyte", cat(idxHeader(idxImagesMagic, 10, 28, 28), make([]byte, 1000)), images, ErrTruncated,
			"truncated: header promises 10 images of 28x28 (7840 bytes), file holds 1000"},
		{"truncated-images-idx3-ubyte.gz", gzBytes(t, cat(idxHeader(idxImagesMagic, 10, 28, 28), make([]byte, 1000))), images, ErrTruncated,
			"truncated: header promises 10 images of 28x28 (7840 bytes), file holds 1000"},
		{"truncated-header", idxHeader(idxImagesMagic, 10)[:7], images, ErrTruncated,
			"truncated: file holds 7 bytes, shorter than the 16-byte idx3 unsigned-byte images header"},
		{"huge-promise.gz", gzBytes(t, idxHeader(idxImagesMagic, 100000, 28, 28)), images, ErrTruncated,
			"header promises 100000 images of 28x28 (78400000 bytes), file holds 0"},
		{"truncated-labels", cat(idxHeader(idxLabelsMagic, 10), []byte{1, 2, 3}), labels, ErrTruncated,
			"truncated: header promises 10 labels (10 bytes), file holds 3"},
		{"labels-as-images", lab, images, ErrWrongMagic,
			"wrong magic: magic 0x00000801 (idx1 unsigned-byte labels), want 0x00000803 (idx3 unsigned-byte images)"},
		{"images-as-labels", img2, labels, ErrWrongMagic, "wrong magic: magic 0x00000803"},
		{"not-idx", []byte("PK\x03\x04 this is a zip file, not idx"), images, ErrWrongMagic, "wrong magic: magic 0x504b0304 (not an idx file)"},
		{"gzipped-twice.gz", gzBytes(t, gzBytes(t, img2)), images, ErrWrongMagic, "gzipped twice?"},
		{"27x28", idxImagesBytes(2, 27, 28, pixPattern), images, ErrDimension, "dimension mismatch: images are 27x28, want 28x28"},
		{"zero-images", idxHeader(idxImagesMagic, 0, 28, 28), images, ErrDimension, "dimension mismatch: header has a zero dimension: 0 images of 28x28"},
		{"zero-rows", idxHeader(idxImagesMagic, 5, 0, 28), anyImages, ErrDimension, "zero dimension: 5 images of 0x28"},
		{"zero-labels", idxHeader(idxLabelsMagic, 0), labels, ErrDimension, "dimension mismatch: header promises zero labels"},
		{"absurd-count", idxHeader(idxImagesMagic, 0xffffffff, 28, 28), images, ErrDimension, "absurd 4294967295 images"},
		{"absurd-size", idxHeader(idxImagesMagic, 1, 0xffff, 0xffff), anyImages, ErrDimension, "absurd 65535x65535 images"},
		{"overflowing-size", idxHeader(idxImagesMagic, 1, 0xffffffff, 0xffffffff), anyImages, ErrDimension, "absurd 4294967295x4294967295 images"},
		{"absurd-labels", idxHeader(idxLabelsMagic, 0xfffffff0), labels, ErrDimension, "absurd 4294967280 labels"},
		{"label-10", idxLabelsBytes([]byte{0, 1, 9, 10, 2}), labels, ErrLabelRange, "label out of range: label 3 (0-based) is 10, want 0..9"},
		{"label-255.gz", gzBytes(t, idxLabelsBytes([]byte{255})), labels, ErrLabelRange, "label 0 (0-based) is 255, want 0..9"},
		{"trailing-images", cat(img2, []byte("junk!")), images, ErrTrailingData, "trailing garbage: 5 bytes after the 2 images the header promises"},
		{"trailing-labels.gz", gzBytes(t, cat(lab, []byte{0})), labels, ErrTrailingData, "trailing garbage: 1 bytes after the 3 labels the header promises"},
		{"after-gzip.gz", cat(gzBytes(t, img2), []byte("junk")), images, ErrTrailingData, "trailing garbage: 4 bytes after the end of the gzip stream"},
		{"corrupt-deflate.gz", corruptDeflate(gzBytes(t, img2)), images, ErrCorruptGzip, "corrupt gzip: corrupt deflate data"},
		{"cut-short.gz", func() []byte { b := gzBytes(t, img2); return b[:len(b)/2] }(), images, ErrCorruptGzip,
			"corrupt gzip: compressed stream ends early"},
		{"bad-crc.gz", badCRC(gzBytes(t, img2)), images, ErrCorruptGzip, "corrupt gzip: CRC-32 or size check failed"},
		{"bad-header.gz", []byte{0x1f, 0x8b, 0x99, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3}, images, ErrCorruptGzip, "corrupt gzip: invalid gzip header"},
		{"gzip-magic-only.gz", []byte{0x1f, 0x8b}, labels, ErrCorruptGzip, "corrupt gzip"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, c.name, c.data)
			var err error
			switch c.read {
			case images:
				_, _, err = ReadIDXImages(p, Shape{1, 28, 28})
			case anyImages:
				_, _, err = ReadIDXImages(p, Shape{})
			case labels:
				_, err = ReadIDXLabels(p, 10)
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "read "+p+": ") {
				t.Errorf("error does not start with %q: %s", "read "+p+": ", msg)
			}
			if !strings.Contains(msg, c.phrase) {
				t.Errorf("error lacks %q: %s", c.phrase, msg)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error is not %v: %s", c.kind, msg)
			}
		})
	}
}

func TestReadIDXSetCountMismatch(t *testing.T) {
	dir := t.TempDir()
	ip := writeFile(t, dir, "train-images-idx3-ubyte.gz", gzBytes(t, idxImagesBytes(4, 28, 28, pixPattern)))
	lp := writeFile(t, dir, "train-labels-idx1-ubyte.gz", gzBytes(t, idxLabelsBytes([]byte{1, 2, 3})))
	_, err := ReadIDXSet(ip, lp, Shape{1, 28, 28}, 10)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{ip, lp, "count mismatch", "holds 4 images", "holds 3 labels"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrCountMismatch) {
		t.Errorf("not ErrCountMismatch: %v", err)
	}
}

func TestReadIDXMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.gz")
	_, _, err := ReadIDXImages(p, Shape{})
	if err == nil || !strings.Contains(err.Error(), p) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

// checkDecoded asserts the invariants of a successful decode.
func checkDecoded(t *testing.T, x []float32, y []int, shape Shape, numClasses int) {
	t.Helper()
	if shape.Size() <= 0 {
		t.Fatalf("bad shape %v", shape)
	}
	if x != nil && len(x)%shape.Size() != 0 {
		t.Fatalf("len(x) %d not a multiple of %v", len(x), shape)
	}
	if x != nil && y != nil && len(x)/shape.Size() != len(y) {
		t.Fatalf("%d rows, %d labels", len(x)/shape.Size(), len(y))
	}
	for _, v := range x {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("pixel %v outside [0,1]", v)
		}
	}
	for _, l := range y {
		if l < 0 || l >= numClasses {
			t.Fatalf("label %d outside 0..%d", l, numClasses-1)
		}
	}
}

func FuzzReadIDXImages(f *testing.F) {
	small := idxImagesBytes(2, 3, 4, pixPattern)
	f.Add(small)
	f.Add(gzBytes(f, small))
	f.Add(idxImagesBytes(1, 28, 28, pixPattern))
	f.Add(cat(small, []byte{1}))
	f.Add(small[:20])
	f.Add(idxHeader(idxImagesMagic, 1<<20, 28, 28))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, want := range []Shape{{}, {1, 3, 4}} {
			src, err := newSource(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				continue
			}
			x, shape, err := decodeIDXImages(src, want)
			if err != nil {
				if x != nil || err.Error() == "" {
					t.Fatalf("error %v with %d values", err, len(x))
				}
				continue
			}
			if want != (Shape{}) && shape != want {
				t.Fatalf("shape %v, want %v", shape, want)
			}
			if len(x) == 0 {
				t.Fatal("success with no images")
			}
			checkDecoded(t, x, nil, shape, 1)
		}
	})
}

func FuzzReadIDXLabels(f *testing.F) {
	f.Add(idxLabelsBytes([]byte{0, 1, 9}))
	f.Add(gzBytes(f, idxLabelsBytes([]byte{3, 4})))
	f.Add(idxLabelsBytes([]byte{10}))
	f.Add(idxHeader(idxLabelsMagic, 1<<30))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newSource(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		y, err := decodeIDXLabels(src, 10)
		if err != nil {
			if y != nil {
				t.Fatalf("error %v with %d labels", err, len(y))
			}
			return
		}
		if len(y) == 0 {
			t.Fatal("success with no labels")
		}
		checkDecoded(t, nil, y, Shape{1, 1, 1}, 10)
	})
}
