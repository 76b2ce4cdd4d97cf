package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods/nn"
)

// TestNotePrecision: runs asking for bf16 on a CPU without it get one
// note, once; fp32 runs, or a CPU with bf16, get none.
func TestNotePrecision(t *testing.T) {
	spec := func(settings string) harness.Spec { return harness.Spec{Settings: json.RawMessage(settings)} }
	bf, fp := spec(`{"lr":0.001,"precision":"bf16"}`), spec(`{"precision":"fp32"}`)
	for _, tc := range []struct {
		specs []harness.Spec
		cpu   bool
		notes int
	}{
		{[]harness.Spec{fp, bf, bf}, false, 1},
		{[]harness.Spec{fp, fp}, false, 0},
		{[]harness.Spec{bf}, true, 0},
	} {
		var w bytes.Buffer
		notePrecision(&w, tc.specs, tc.cpu)
		if n := strings.Count(w.String(), "no AVX512_BF16"); n != tc.notes {
			t.Errorf("cpu bf16 %v: %d notes, want %d: %q", tc.cpu, n, tc.notes, w.String())
		}
	}
}

// TestVersionNamesKernels: --version names the kernels that compute,
// which a result's last bits depend on.
func TestVersionNamesKernels(t *testing.T) {
	var out, errBuf bytes.Buffer
	if code := execute(context.Background(), []string{"--version"}, &out, &errBuf); code != 0 {
		t.Fatalf("--version: exit %d: %s", code, errBuf.String())
	}
	want := "(kernels: " + nn.Kernels() + ")\n"
	if got := out.String(); !strings.HasPrefix(got, "noprop version ") || !strings.HasSuffix(got, want) || !strings.Contains(want, "fp32 ") || !strings.Contains(want, ", vector ") {
		t.Errorf("--version printed %q, want noprop version … %q", got, want)
	}
}

// TestRunRecordsKernels: every stored run names the kernels that computed
// it, and the runs export carries them.
func TestRunRecordsKernels(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "images")
	writeBlobFolder(t, data, 4, 20, 5)
	db := filepath.Join(dir, "r.db")
	if code, _, errOut := run(t, "run", "--method", "backprop", "--set", "hidden=[8]", "--set", "iterations=5",
		"--dataset", "folder:"+data, "--tasks", "2", "--db", db); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errOut)
	}
	code, out, errOut := run(t, "export", "--db", db, "--what", "runs", "--format", "csv")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("export: %d records, %v:\n%s", len(recs), err, out)
	}
	col := slices.Index(recs[0], "kernels")
	for _, rec := range recs[1:] {
		if col < 0 || rec[col] != nn.Kernels() {
			t.Errorf("column kernels (%d) of %q, want %q", col, rec, nn.Kernels())
		}
	}
}
