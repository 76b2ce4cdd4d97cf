package tasks

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ErrChecksum is wrapped by Fetch's error when a downloaded file's md5 is
// not the one of the manifest.
var ErrChecksum = errors.New("checksum mismatch")

// FetchFile is one file of a fetch manifest.
type FetchFile struct {
	// Name is the file's name under the base URL; it is also its local name.
	Name string
	// MD5 is the lowercase hex md5 of the file as downloaded.
	MD5 string
	// Extract marks a .tar.gz archive: after its checksum matches, its
	// folders and regular files are extracted into the dataset's folder and
	// the archive itself is not kept.
	Extract bool
}

// FetchManifest says where a dataset's official files are and what their
// checksums are.
type FetchManifest struct {
	// BaseURL is the URL the file names are relative to.
	BaseURL string
	// Files are downloaded in order.
	Files []FetchFile
}

// FetchOptions adjusts Fetch; the zero value fetches the official files.
type FetchOptions struct {
	// BaseURL, if not empty, replaces the manifest's base URL.
	BaseURL string
	// Client, if not nil, is the HTTP client used; otherwise
	// http.DefaultClient. Cancel through Fetch's context.
	Client *http.Client
	// Files, if not nil, replaces the manifest's files and checksums.
	Files []FetchFile
	// Progress, if not nil, receives one line per file fetched.
	Progress io.Writer
}

var manifests = map[string]FetchManifest{
	"mnist": {
		BaseURL: "https://ossci-datasets.s3.amazonaws.com/mnist/",
		Files: []FetchFile{
			{Name: "train-images-idx3-ubyte.gz", MD5: "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
			{Name: "train-labels-idx1-ubyte.gz", MD5: "d53e105ee54ea40749a09fcbcd1e9432"},
			{Name: "t10k-images-idx3-ubyte.gz", MD5: "9fb629c4189551a2d022fa330f9573f3"},
			{Name: "t10k-labels-idx1-ubyte.gz", MD5: "ec29112dd5afa0611ce80d1b7f02629c"},
		},
	},
	"fashion-mnist": {
		BaseURL: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
		Files: []FetchFile{
			{Name: "train-images-idx3-ubyte.gz", MD5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
			{Name: "train-labels-idx1-ubyte.gz", MD5: "25c81989df183df01b3e8a0aad5dffbe"},
			{Name: "t10k-images-idx3-ubyte.gz", MD5: "bef4ecab320f06d8554ea6380940ec79"},
			{Name: "t10k-labels-idx1-ubyte.gz", MD5: "bb300cfdad3c16e7a12a480ee83cd310"},
		},
	},
	"cifar10": {
		BaseURL: "https://www.cs.toronto.edu/~kriz/",
		Files:   []FetchFile{{Name: "cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530", Extract: true}},
	},
	"cifar100": {
		BaseURL: "https://www.cs.toronto.edu/~kriz/",
		Files:   []FetchFile{{Name: "cifar-100-binary.tar.gz", MD5: "03b5dce01913d631647c71ecec9e9cb8", Extract: true}},
	},
}

// ErrNoDownload is returned for datasets that have no official download:
// the JPEG copy of CIFAR-10 (its official files are dataset cifar10) and
// image folders a user brings.
var ErrNoDownload = errors.New("no official download: this dataset is read only from a folder; for CIFAR-10's official files use dataset cifar10")

// OfficialManifest returns the official download location and checksums of
// the named dataset (one of DatasetNames; "cifar100-coarse" is "cifar100").
func OfficialManifest(name string) (FetchManifest, error) {
	folder, err := DataFolder(name)
	if err != nil {
		return FetchManifest{}, err
	}
	m, ok := manifests[folder]
	if !ok {
		return FetchManifest{}, fmt.Errorf("%s: %w", name, ErrNoDownload)
	}
	m.Files = append([]FetchFile(nil), m.Files...)
	return m, nil
}

// Fetch downloads the named dataset's official files into destDir/FOLDER/
// (FOLDER from DataFolder), so that Load(name, destDir) finds them.
//
// Each file goes to a temporary file in that folder and is renamed to its
// name only after its md5 matches the manifest; a mismatch is an error
// wrapping ErrChecksum that names the file and both sums, and leaves no
// file behind. Archives (FetchFile.Extract) are extracted after the check.
// A plain file already present with the right md5 is not downloaded again.
func Fetch(ctx context.Context, name, destDir string, opts FetchOptions) error {
	m, err := OfficialManifest(name)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	if opts.BaseURL != "" {
		m.BaseURL = opts.BaseURL
	}
	if opts.Files != nil {
		m.Files = opts.Files
	}
	client := opts.Client
	if client == nil {
		client = http.DefaultClient
	}
	if destDir == "" {
		return fmt.Errorf("fetch %s: no destination folder given", name)
	}
	spec, _ := lookupSpec(name)
	dir := filepath.Join(destDir, spec.folder)
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("fetch %s: %w", name, err)
	}
	for _, f := range m.Files {
		if err := fetchFile(ctx, client, m.BaseURL, dir, f, opts.Progress); err != nil {
			if created {
				os.Remove(dir) // only if still empty: a folder this fetch made and filled with nothing
			}
			return fmt.Errorf("fetch %s: %w", name, err)
		}
	}
	if _, missing := spec.resolve(dir); missing != nil {
		return fmt.Errorf("fetch %s: the files were fetched, but %s still lacks %s", name, dir, strings.Join(missing, ", "))
	}
	return nil
}

// fileURL joins base and a file name.
func fileURL(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", base, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.JoinPath(name).String(), nil
}

// md5File returns the hex md5 of the file at p.
func md5File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func validMD5(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// fetchFile downloads one manifest file into dir.
func fetchFile(ctx context.Context, client *http.Client, base, dir string, f FetchFile, progress io.Writer) error {
	local := path.Base(f.Name)
	if f.Name == "" || local == "." || local == "/" || local == ".." {
		return fmt.Errorf("invalid file name %q in the manifest", f.Name)
	}
	want := strings.ToLower(f.MD5)
	if !validMD5(want) {
		return fmt.Errorf("%s: the manifest's md5 %q is not 32 hex digits", f.Name, f.MD5)
	}
	final := filepath.Join(dir, local)
	if !f.Extract && isFile(final) {
		if sum, err := md5File(final); err == nil && sum == want {
			if progress != nil {
				fmt.Fprintf(progress, "%s: already present, md5 %s\n", final, sum)
			}
			return nil
		}
	}
	u, err := fileURL(base, f.Name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+local+".*.part")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()           // an error once closed: ignored
		os.Remove(tmp.Name()) // fails once renamed or removed: ignored
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download %s: HTTP %s", u, resp.Status)
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if err != nil {
		if resp.ContentLength >= 0 {
			return fmt.Errorf("download %s: truncated: transfer broke off after %d of %d bytes: %w", u, n, resp.ContentLength, err)
		}
		return fmt.Errorf("download %s: transfer broke off after %d bytes: %w", u, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("download %s: truncated: got %d of %d bytes", u, n, resp.ContentLength)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%s: %w: md5 expected %s, got %s (%d bytes from %s; discarded)", f.Name, ErrChecksum, want, got, n, u)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if f.Extract {
		if err := extractTarGz(tmp.Name(), dir); err != nil {
			return fmt.Errorf("extract %s: %w", f.Name, err)
		}
		if progress != nil {
			fmt.Fprintf(progress, "%s: %d bytes, md5 %s, extracted into %s\n", f.Name, n, want, dir)
		}
		return nil
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return err
	}
	if progress != nil {
		fmt.Fprintf(progress, "%s: %d bytes, md5 %s\n", final, n, want)
	}
	return nil
}

// extractTarGz extracts the folders and regular files of a .tar.gz archive
// into dir; entries of other kinds are skipped, and names that would leave
// dir are an error. On error, the files it extracted are removed.
func extractTarGz(archive, dir string) (err error) {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return gzipError(err, 0)
	}
	defer z.Close()
	var created []string
	defer func() {
		if err != nil {
			for _, p := range created {
				os.Remove(p)
			}
		}
	}()
	tr := tar.NewReader(z)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read archive: %w", err)
		}
		name := filepath.FromSlash(path.Clean(h.Name))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q would be written outside %s", h.Name, dir)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := extractOne(tr, target, h.Size); err != nil {
				return fmt.Errorf("archive entry %q: %w", h.Name, err)
			}
			created = append(created, target)
		}
	}
	if len(created) == 0 {
		return errors.New("archive holds no regular files")
	}
	return nil
}

// extractOne writes one archive entry of size bytes to target, through a
// temporary file.
func extractOne(r io.Reader, target string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*.part")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%w: entry holds %d of %d bytes", ErrTruncated, n, size)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), target)
}
