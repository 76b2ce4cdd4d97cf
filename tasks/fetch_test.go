package tasks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fileServer serves files by path; a path under /truncated/ claims twice
// its length and sends half. It counts the requests.
type fileServer struct {
	files    map[string][]byte
	requests atomic.Int64
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if name, ok := strings.CutPrefix(r.URL.Path, "/truncated/"); ok {
		b, ok := s.files["/"+name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(2*len(b)))
		w.Write(b)
		return
	}
	b, ok := s.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

func newFileServer(t *testing.T, files map[string][]byte) (*fileServer, *httptest.Server) {
	fs := &fileServer{files: files}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

// synthMNIST returns a small MNIST-format set as the four official .gz files
// and a manifest of them.
func synthMNIST(t *testing.T) (map[string][]byte, []FetchFile) {
	dir := t.TempDir()
	writeIDXDataset(t, dir, true, 25, 15)
	files := map[string][]byte{}
	var manifest []FetchFile
	for _, base := range idxBases {
		b, err := os.ReadFile(filepath.Join(dir, base+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		files["/mnist/"+base+".gz"] = b
		manifest = append(manifest, FetchFile{Name: base + ".gz", MD5: md5Hex(b)})
	}
	return files, manifest
}

// listFiles lists every file under dir, relative to it.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestFetchMNISTThenLoad(t *testing.T) {
	noDataEnv(t)
	files, manifest := synthMNIST(t)
	fsrv, srv := newFileServer(t, files)
	dest := t.TempDir()
	var log bytes.Buffer
	opts := FetchOptions{BaseURL: srv.URL + "/mnist", Client: srv.Client(), Files: manifest, Progress: &log}
	if err := Fetch(context.Background(), "mnist", dest, opts); err != nil {
		t.Fatal(err)
	}
	d, err := Load("mnist", dest)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 25 || d.Test.Len() != 15 || d.Train.Shape != (Shape{1, 28, 28}) {
		t.Fatalf("%s", summary(d))
	}
	if got := listFiles(t, dest); len(got) != 4 {
		t.Fatalf("files after fetch: %v", got)
	}
	if !strings.Contains(log.String(), "train-images-idx3-ubyte.gz") {
		t.Errorf("progress: %q", log.String())
	}
	// Files already present with the right md5 are not downloaded again.
	before := fsrv.requests.Load()
	if err := Fetch(context.Background(), "mnist", dest, opts); err != nil {
		t.Fatal(err)
	}
	if n := fsrv.requests.Load() - before; n != 0 {
		t.Errorf("second fetch made %d requests, want 0", n)
	}
}

func TestFetchChecksumMismatch(t *testing.T) {
	files, manifest := synthMNIST(t)
	_, srv := newFileServer(t, files)
	dest := t.TempDir()
	actual := manifest[2].MD5
	manifest[2].MD5 = strings.Repeat("0", 32)
	err := Fetch(context.Background(), "mnist", dest, FetchOptions{BaseURL: srv.URL + "/mnist/", Client: srv.Client(), Files: manifest})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"t10k-images-idx3-ubyte.gz", "checksum mismatch", "expected " + strings.Repeat("0", 32), "got " + actual} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, ErrChecksum) {
		t.Errorf("not ErrChecksum: %v", err)
	}
	// The two files before it were fetched; nothing of the bad one is left.
	got := listFiles(t, dest)
	want := []string{filepath.Join("mnist", "train-images-idx3-ubyte.gz"), filepath.Join("mnist", "train-labels-idx1-ubyte.gz")}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("files left: %v, want %v", got, want)
	}
}

func TestFetchHTTPErrors(t *testing.T) {
	files, manifest := synthMNIST(t)
	_, srv := newFileServer(t, files)
	cases := []struct {
		name, base string
		files      []FetchFile
		phrases    []string
	}{
		{"404", srv.URL + "/mnist/", []FetchFile{{Name: "missing.gz", MD5: manifest[0].MD5}}, []string{"/mnist/missing.gz", "404 Not Found"}},
		{"truncated", srv.URL + "/truncated/mnist/", manifest[:1], []string{"/truncated/mnist/train-images-idx3-ubyte.gz", "truncated", "unexpected EOF"}},
		{"bad-md5-in-manifest", srv.URL + "/mnist/", []FetchFile{{Name: "train-images-idx3-ubyte.gz", MD5: "xyz"}}, []string{"not 32 hex digits"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dest := t.TempDir()
			err := Fetch(context.Background(), "mnist", dest, FetchOptions{BaseURL: c.base, Client: srv.Client(), Files: c.files})
			if err == nil {
				t.Fatal("no error")
			}
			for _, p := range append(c.phrases, "fetch mnist") {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error lacks %q: %v", p, err)
				}
			}
			if got := listFiles(t, dest); len(got) != 0 {
				t.Errorf("files left: %v", got)
			}
			if _, err := os.Stat(filepath.Join(dest, "mnist")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the failed fetch left the folder it made: %v", err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := Fetch(ctx, "mnist", t.TempDir(), FetchOptions{BaseURL: srv.URL + "/mnist/", Client: srv.Client(), Files: manifest})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if err := Fetch(context.Background(), "svhn", t.TempDir(), FetchOptions{}); err == nil || !strings.Contains(err.Error(), "unknown dataset") {
			t.Fatalf("err = %v", err)
		}
	})
}

type tarEntry struct {
	name string
	data []byte
	dir  bool
	link bool
}

func tarGz(t *testing.T, entries []tarEntry) []byte {
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	tw := tar.NewWriter(z)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		switch {
		case e.dir:
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		case e.link:
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, "/etc/passwd", 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFetchCIFAR10TarballThenLoad(t *testing.T) {
	noDataEnv(t)
	entries := []tarEntry{{name: "cifar-10-batches-bin/", dir: true}}
	for i := 1; i <= 5; i++ {
		entries = append(entries, tarEntry{name: fmt.Sprintf("cifar-10-batches-bin/data_batch_%d.bin", i), data: cifarRecords([]byte{byte(i)}, []byte{0})})
	}
	entries = append(entries,
		tarEntry{name: "cifar-10-batches-bin/test_batch.bin", data: cifarRecords([]byte{7}, []byte{8}, []byte{9})},
		tarEntry{name: "cifar-10-batches-bin/batches.meta.txt", data: []byte("airplane\n")},
		tarEntry{name: "cifar-10-batches-bin/link", link: true}, // skipped
	)
	archive := tarGz(t, entries)
	_, srv := newFileServer(t, map[string][]byte{"/kriz/cifar-10-binary.tar.gz": archive})
	dest := t.TempDir()
	opts := FetchOptions{BaseURL: srv.URL + "/kriz/", Client: srv.Client(),
		Files: []FetchFile{{Name: "cifar-10-binary.tar.gz", MD5: md5Hex(archive), Extract: true}}}
	if err := Fetch(context.Background(), "cifar10", dest, opts); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, filepath.Join(dest, "cifar10")); len(got) != 7 {
		t.Errorf("files after extraction: %v (want the 6 batches and batches.meta.txt, no archive, no link)", got)
	}
	d, err := Load("cifar10", dest)
	if err != nil {
		t.Fatal(err)
	}
	if d.Train.Len() != 10 || d.Test.Len() != 3 || d.Test.Y[2] != 9 {
		t.Fatalf("%s", summary(d))
	}
}

func TestFetchTarballUnsafe(t *testing.T) {
	archive := tarGz(t, []tarEntry{
		{name: "cifar-100-binary/train.bin", data: cifarRecords([]byte{1, 1})},
		{name: "../escaped.txt", data: []byte("no")},
	})
	_, srv := newFileServer(t, map[string][]byte{"/cifar-100-binary.tar.gz": archive})
	root := t.TempDir()
	dest := filepath.Join(root, "data")
	err := Fetch(context.Background(), "cifar100", dest, FetchOptions{BaseURL: srv.URL, Client: srv.Client(),
		Files: []FetchFile{{Name: "cifar-100-binary.tar.gz", MD5: md5Hex(archive), Extract: true}}})
	if err == nil || !strings.Contains(err.Error(), "outside") || !strings.Contains(err.Error(), "cifar-100-binary.tar.gz") {
		t.Fatalf("err = %v", err)
	}
	if got := listFiles(t, root); len(got) != 0 {
		t.Errorf("files left: %v", got)
	}
}

func TestOfficialManifests(t *testing.T) {
	want := map[string]string{
		"mnist/train-images-idx3-ubyte.gz":         "f68b3c2dcbeaaa9fbdd348bbdeb94873",
		"mnist/t10k-labels-idx1-ubyte.gz":          "ec29112dd5afa0611ce80d1b7f02629c",
		"fashion-mnist/train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
		"cifar10/cifar-10-binary.tar.gz":           "c32a1d4ab5d03f1284b67883e8d87530",
		"cifar100-coarse/cifar-100-binary.tar.gz":  "03b5dce01913d631647c71ecec9e9cb8",
	}
	for _, name := range DatasetNames() {
		m, err := OfficialManifest(name)
		if name == "cifar10-jpeg" {
			if !errors.Is(err, ErrNoDownload) {
				t.Errorf("%s: %v, want ErrNoDownload", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.BaseURL, "http") || len(m.Files) == 0 {
			t.Errorf("%s: %+v", name, m)
		}
		for _, f := range m.Files {
			if !validMD5(f.MD5) {
				t.Errorf("%s: %s: bad md5 %q", name, f.Name, f.MD5)
			}
			if w, ok := want[name+"/"+f.Name]; ok && w != f.MD5 {
				t.Errorf("%s: %s: md5 %s, want %s", name, f.Name, f.MD5, w)
			}
			delete(want, name+"/"+f.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("not in the manifests: %v", want)
	}
}

// TestGoMNISTFilesMatchManifest checks that the GoMNIST module's files are
// the canonical ones that Fetch would download.
func TestGoMNISTFilesMatchManifest(t *testing.T) {
	noDataEnv(t)
	dir, err := Locate("mnist", "")
	if err != nil {
		t.Skipf("the go command cannot locate MNIST here: %v", err)
	}
	m, _ := OfficialManifest("mnist")
	for _, f := range m.Files {
		sum, err := md5File(filepath.Join(dir, f.Name))
		if err != nil || sum != f.MD5 {
			t.Errorf("%s: md5 %s (%v), want %s", f.Name, sum, err, f.MD5)
		}
	}
}
