package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestProbeStoredExportedPlotted runs NoProp-DT with --probe on a small
// image folder, then reads the probe back: export --what probe has a row
// per matrix cell and stage (3 rows × 2 tasks × 5 stages), and plot probe
// draws it.
func TestProbeStoredExportedPlotted(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 30, 10)
	db := filepath.Join(dir, "r.db")
	if code, _, errOut := run(t, "run", "--method", "noprop-dt", "--set", `encoder="mlp"`, "--set", "hidden=16", "--set", "timesteps=2",
		"--set", "epochs=1", "--set", "iterations=0", "--set", "batch_size=16", "--dataset", "folder:"+data, "--tasks", "2",
		"--scenario", "class", "--inference-runs", "1", "--probe", "--db", db); code != 0 {
		t.Fatalf("run --probe: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "export", "--db", db, "--what", "probe", "--format", "csv")
	if code != 0 {
		t.Fatalf("export --what probe: exit %d: %s", code, errOut)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3*2*5 {
		t.Fatalf("export --what probe: %d lines, want a header and 30 rows:\n%s", len(rows), out)
	}
	stage := 0
	for i, c := range rows[0] {
		if c == "stage" {
			stage = i
		}
	}
	if rows[1][stage] != "denoise 1" || rows[5][stage] != "head" {
		t.Errorf("stages %q … %q, want denoise 1 … head", rows[1][stage], rows[5][stage])
	}
	png := filepath.Join(dir, "probe.png")
	if code, _, errOut := run(t, "plot", "probe", "--db", db, "-o", png); code != 0 {
		t.Fatalf("plot probe: exit %d: %s", code, errOut)
	}
	if st, err := os.Stat(png); err != nil || st.Size() < 1000 {
		t.Errorf("plot probe wrote %v, %v", st, err)
	}
}
