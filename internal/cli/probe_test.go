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
// draws it. A run with learned embeddings adds the embedding stage, which
// the figure labels e and explains in its legend.
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

	if code, _, errOut := run(t, "run", "--method", "noprop-dt", "--set", `encoder="mlp"`, "--set", "hidden=16", "--set", "timesteps=2",
		"--set", "epochs=1", "--set", "iterations=0", "--set", "batch_size=16", "--set", `embedding="learned"`, "--set", "embed_dim=4",
		"--dataset", "folder:"+data, "--tasks", "2", "--scenario", "class", "--inference-runs", "1", "--probe", "--db", db); code != 0 {
		t.Fatalf("run --probe, learned embeddings: exit %d: %s", code, errOut)
	}
	_, out, _ = run(t, "export", "--db", db, "--what", "probe", "--format", "csv")
	if n := strings.Count(out, ",embedding,"); n != 3*2 {
		t.Errorf("export --what probe: %d rows of the embedding stage, want 6 (3 rows × 2 tasks):\n%s", n, out)
	}
	svg := filepath.Join(dir, "probe.svg")
	if code, _, errOut := run(t, "plot", "probe", "--db", db, "-o", svg); code != 0 {
		t.Fatalf("plot probe: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), "e: learned embedding rows") {
		t.Errorf("plot probe of a run with learned embeddings: no legend line for stage e (%v)", err)
	}
}
