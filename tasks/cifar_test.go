package tasks

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// cifarRecords builds records with the given label bytes per record (one
// byte for CIFAR-10, coarse then fine for CIFAR-100); the pixels of record i
// are byte(i + k*5) at offset k.
func cifarRecords(labels ...[]byte) []byte {
	var b []byte
	for i, l := range labels {
		b = append(b, l...)
		for k := range cifarPixels {
			b = append(b, byte(i+k*5))
		}
	}
	return b
}

func TestReadCIFAR10Valid(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "data_batch_1.bin", cifarRecords([]byte{3}, []byte{9}))
	b := writeFile(t, dir, "data_batch_2.bin.gz", gzBytes(t, cifarRecords([]byte{0})))
	c := writeFile(t, dir, "multi", cat(gzBytes(t, cifarRecords([]byte{1})), gzBytes(t, cifarRecords([]byte{2}))))
	s, err := ReadCIFAR10(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	if s.Shape != (Shape{3, 32, 32}) || s.Len() != 5 || len(s.X) != 5*3072 {
		t.Fatalf("shape %v len %d", s.Shape, s.Len())
	}
	if got := []int{3, 9, 0, 1, 2}; !equalInts(s.Y, got) {
		t.Fatalf("labels %v, want %v", s.Y, got)
	}
	// Channel-major: value k of a row is pixel byte k of its record.
	for row, rec := range []int{0, 1, 0, 0, 0} {
		for _, k := range []int{0, 1023, 1024, 2048, 3071} {
			if want := float32(byte(rec+k*5)) / 255; s.Row(row)[k] != want {
				t.Fatalf("row %d value %d = %v, want %v", row, k, s.Row(row)[k], want)
			}
		}
	}
	// Sizes known up front (raw size, gzip ISIZE) give a single allocation
	// of X; the two-member file's ISIZE covers only its last member.
	one, err := ReadCIFAR10(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if cap(one.X) != len(one.X) {
		t.Errorf("X of %d values has capacity %d: not allocated once", len(one.X), cap(one.X))
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadCIFAR100Valid(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "train.bin.gz", gzBytes(t, cifarRecords([]byte{19, 99}, []byte{0, 7})))
	fine, err := ReadCIFAR100(p, CIFAR100Fine)
	if err != nil {
		t.Fatal(err)
	}
	coarse, err := ReadCIFAR100(p, CIFAR100Coarse)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(fine.Y, []int{99, 7}) || !equalInts(coarse.Y, []int{19, 0}) {
		t.Fatalf("fine %v coarse %v", fine.Y, coarse.Y)
	}
	if !equalFloats(fine.X, coarse.X) || fine.Shape != CIFARShape {
		t.Fatal("fine and coarse pixels differ")
	}
	if want := float32(byte(1+2*5)) / 255; fine.Row(1)[2] != want {
		t.Fatalf("pixel %v, want %v", fine.Row(1)[2], want)
	}
	if cap(fine.X) != len(fine.X) {
		t.Errorf("X of %d values has capacity %d: not allocated once", len(fine.X), cap(fine.X))
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadCIFARMalformed(t *testing.T) {
	two10 := cifarRecords([]byte{1}, []byte{2})
	cases := []struct {
		name   string
		data   []byte
		c100   bool
		kind   error
		phrase string
	}{
		{"data_batch_1.bin", cat(two10, make([]byte, 100)), false, ErrTruncated,
			"truncated: file size 6246 is not a multiple of the 3073-byte record (2 records + 100 bytes)"},
		{"data_batch_2.bin.gz", gzBytes(t, two10[:3073+500]), false, ErrTruncated,
			"truncated: file holds 3573 bytes, not a multiple of the 3073-byte record (1 records + 500 bytes)"},
		{"empty.bin", nil, false, ErrTruncated, "truncated: empty file: no 3073-byte records"},
		{"empty.bin.gz", gzBytes(t, nil), false, ErrTruncated, "truncated: empty file"},
		{"train.bin", cifarRecords([]byte{1, 2}, []byte{3, 4}), false, ErrTruncated, "3073-byte record"}, // CIFAR-100 data read as CIFAR-10
		{"label-10.bin", cifarRecords([]byte{9}, []byte{10}), false, ErrLabelRange,
			"label out of range: record 1 (0-based) has label 10, want 0..9"},
		{"fine-100.bin.gz", gzBytes(t, cifarRecords([]byte{3, 100})), true, ErrLabelRange,
			"label out of range: record 0 (0-based) has fine label 100, want 0..99"},
		{"coarse-20.bin", cifarRecords([]byte{0, 0}, []byte{1, 1}, []byte{20, 5}), true, ErrLabelRange,
			"label out of range: record 2 (0-based) has coarse label 20, want 0..19"},
		{"after-gzip.bin.gz", cat(gzBytes(t, two10), []byte{0, 0, 0}), false, ErrTrailingData,
			"trailing garbage: 3 bytes after the end of the gzip stream"},
		{"corrupt.bin.gz", corruptDeflate(gzBytes(t, two10)), false, ErrCorruptGzip, "corrupt gzip: corrupt deflate data"},
		{"cut.bin.gz", func() []byte { b := gzBytes(t, two10); return b[:len(b)-6] }(), false, ErrCorruptGzip, "corrupt gzip"},
		{"crc.bin.gz", badCRC(gzBytes(t, two10)), false, ErrCorruptGzip, "corrupt gzip: CRC-32 or size check failed"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, dir, c.name, c.data)
			var err error
			if c.c100 {
				_, err = ReadCIFAR100(p, CIFAR100Fine)
			} else {
				_, err = ReadCIFAR10(p)
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
	// An error in the second of several files names that file.
	good := writeFile(t, dir, "good.bin", two10)
	bad := writeFile(t, dir, "bad.bin", two10[:100])
	if _, err := ReadCIFAR10(good, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzReadCIFAR(f *testing.F) {
	rec10 := cifarRecords([]byte{1}, []byte{9})
	rec100 := cifarRecords([]byte{19, 99})
	f.Add(rec10, false)
	f.Add(gzBytes(f, rec10), false)
	f.Add(rec100, true)
	f.Add(gzBytes(f, rec100), true)
	f.Add(rec10[:3000], false)
	f.Fuzz(func(t *testing.T, data []byte, c100 bool) {
		format, classes := cifar10Format, 10
		if c100 {
			format, classes = cifar100Format(CIFAR100Coarse), 20
		}
		src, err := newSource(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		x, y, err := decodeCIFAR(src, format, nil, nil)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(y) == 0 {
			t.Fatal("success with no records")
		}
		checkDecoded(t, x, y, CIFARShape, classes)
	})
}
