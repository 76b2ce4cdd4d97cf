package tasks

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// CacheEnv names the folder where decoded image folders are kept; "off"
// turns the cache off. Unset, it is noprop/ in the user's cache folder
// ($XDG_CACHE_HOME or ~/.cache).
const CacheEnv = "NOPROP_CACHE"

// folderCacheMagic starts a cache file; the number is its format.
const folderCacheMagic = "NPIMGC1\n"

// folderCache is an image folder decoded: its shape and the pixel bytes of
// its training and test images, in the order of their file lists.
type folderCache struct {
	shape       Shape
	train, test []byte
}

// cacheDir is the folder of decoded image folders, "" when off.
func cacheDir() string {
	switch env := os.Getenv(CacheEnv); env {
	case "off":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "noprop")
	default:
		return env
	}
}

// folderKey identifies the contents of an image folder by its classes and
// each file's name, size and modification time: a file replaced, added or
// removed gives another key, so a stale cache is never read.
func folderKey(dir string, classes []string, sets ...[]imageFile) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s%q\n", folderCacheMagic, classes)
	for _, files := range sets {
		fmt.Fprintf(h, "%d files\n", len(files))
		for _, f := range files {
			st, err := os.Stat(f.path)
			if err != nil {
				return "", err
			}
			rel, err := filepath.Rel(dir, f.path)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%q %d %d %d\n", rel, f.class, st.Size(), st.ModTime().UnixNano())
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

func folderCachePath(key string) string {
	d := cacheDir()
	if d == "" {
		return ""
	}
	return filepath.Join(d, "imagefolder-"+key+".bin")
}

// readFolderCache reads the cache file of key if there is one whose size
// and checksum are right for nTrain and nTest images.
func readFolderCache(key string, nTrain, nTest int) (folderCache, bool) {
	path := folderCachePath(key)
	if path == "" {
		return folderCache{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil || len(b) < len(folderCacheMagic)+3*4+sha256.Size || string(b[:len(folderCacheMagic)]) != folderCacheMagic {
		return folderCache{}, false
	}
	body, sum := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return folderCache{}, false
	}
	hdr := body[len(folderCacheMagic):]
	s := Shape{C: int(binary.LittleEndian.Uint32(hdr)), H: int(binary.LittleEndian.Uint32(hdr[4:])), W: int(binary.LittleEndian.Uint32(hdr[8:]))}
	pix := hdr[12:]
	d := s.Size()
	if d < 1 || d > maxFolderPixels || len(pix) != (nTrain+nTest)*d {
		return folderCache{}, false
	}
	return folderCache{shape: s, train: pix[:nTrain*d], test: pix[nTrain*d:]}, true
}

// writeFolderCache stores c as the cache file of key, atomically; a cache
// that cannot be written is left out.
func writeFolderCache(key string, c folderCache) {
	path := folderCachePath(key)
	if path == "" || os.MkdirAll(filepath.Dir(path), 0o755) != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return
	}
	h := sha256.New()
	var hdr [12]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(c.shape.C))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(c.shape.H))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(c.shape.W))
	ok := true
	for _, part := range [][]byte{[]byte(folderCacheMagic), hdr[:], c.train, c.test} {
		h.Write(part)
		if _, err := tmp.Write(part); err != nil {
			ok = false
			break
		}
	}
	if ok {
		_, err = tmp.Write(h.Sum(nil))
		ok = err == nil
	}
	if err := tmp.Close(); err != nil || !ok || os.Rename(tmp.Name(), path) != nil {
		os.Remove(tmp.Name())
	}
}
