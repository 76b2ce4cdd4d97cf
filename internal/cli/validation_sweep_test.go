package cli

import (
	"encoding/csv"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSweepResolvedByValidation runs a sweep file with a 2-point
// learning-rate grid and a validation hold-out on a small image folder,
// then resolves the grid with table --select-by val-acc: the learning rate
// that learns (1e-3) wins on validation over the one that barely moves
// (1e-7), and the table shows its test ACC and says why it won.
func TestSweepResolvedByValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four runs")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 60, 20)
	sweep := filepath.Join(dir, "grid.yaml")
	body := fmt.Sprintf(`methods:
  - name: backprop
    settings: {hidden: [32], iterations: 60, batch_size: 16}
    grid: {lr: [0.001, 1e-7]}
datasets: ["folder:%s"]
streams: [split]
tasks: 2
scenarios: [class]
validation: 0.2
seeds: 1
`, data)
	if err := os.WriteFile(sweep, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "r.db")
	if code, _, errOut := run(t, "run", "--sweep", sweep, "--db", db); code != 0 {
		t.Fatalf("run --sweep: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "table", "--db", db, "--select-by", "val-acc", "--format", "csv")
	if code != 0 {
		t.Fatalf("table: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "lr=0.001 (val ACC") || !strings.Contains(out, "best of 2") || strings.Count(out, "\n") != 2 {
		t.Errorf("table --select-by val-acc:\n%s\nwant the grid resolved to lr=0.001, best of 2", out)
	}
	checkValidationCells(t, db)
}

// checkValidationCells checks that every stored cell has its validation
// accuracy and that each run's val_acc is the mean of its last row.
func checkValidationCells(t *testing.T, db string) {
	t.Helper()
	code, out, errOut := run(t, "export", "--db", db, "--what", "cells", "--format", "csv")
	if code != 0 {
		t.Fatalf("export cells: exit %d: %s", code, errOut)
	}
	cells, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(cells) < 2 {
		t.Fatalf("export cells: %v, %d lines", err, len(cells))
	}
	col := func(name string) int { return slices.Index(cells[0], name) }
	run_, after, val := col("run_id"), col("after_task"), col("val_accuracy")
	if run_ < 0 || after < 0 || val < 0 {
		t.Fatalf("cells columns %q: want run_id, after_task and val_accuracy", cells[0])
	}
	last := map[string][]float64{} // each run's last row
	for _, c := range cells[1:] {
		v, err := strconv.ParseFloat(c[val], 64)
		if err != nil {
			t.Fatalf("cell %q: validation accuracy %q", c, c[val])
		}
		if c[after] == "2" {
			last[c[run_]] = append(last[c[run_]], v)
		}
	}
	code, out, errOut = run(t, "export", "--db", db, "--what", "metrics", "--format", "csv")
	if code != 0 {
		t.Fatalf("export metrics: exit %d: %s", code, errOut)
	}
	ms, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	mrun, name, value := slices.Index(ms[0], "run_id"), slices.Index(ms[0], "name"), slices.Index(ms[0], "value")
	checked := 0
	for _, m := range ms[1:] {
		if m[name] != "val_acc" {
			continue
		}
		row := last[m[mrun]]
		got, _ := strconv.ParseFloat(m[value], 64)
		if len(row) != 2 || math.Abs(got-(row[0]+row[1])/2) > 1e-6 {
			t.Errorf("run %s: val_acc %v, last validation row %v", m[mrun], got, row)
		}
		checked++
	}
	if checked != len(last) || checked == 0 {
		t.Errorf("%d val_acc metrics for %d runs", checked, len(last))
	}
}

// writeBlobFolder writes an image folder (train/<class>/*.png and
// test/<class>/*.png, 8×8 gray) of classes noisy blobs, each class's blob
// in its own place.
func writeBlobFolder(t *testing.T, dir string, classes, train, test int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, part := range []struct {
		name string
		n    int
	}{{"train", train}, {"test", test}} {
		for c := range classes {
			folder := filepath.Join(dir, part.name, fmt.Sprintf("class%d", c))
			if err := os.MkdirAll(folder, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range part.n {
				img := image.NewGray(image.Rect(0, 0, 8, 8))
				for p := range img.Pix {
					v := 40 * rng.Float64()
					if p/16 == c { // two rows of 8 pixels per class
						v += 180
					}
					img.Pix[p] = uint8(v)
				}
				f, err := os.Create(filepath.Join(folder, fmt.Sprintf("%03d.png", i)))
				if err != nil {
					t.Fatal(err)
				}
				if err := png.Encode(f, img); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
