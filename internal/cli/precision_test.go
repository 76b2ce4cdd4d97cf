package cli

import (
	"bytes"
	"context"
	"encoding/json"
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

// TestVersionNamesKernels: --version names the kernels that ran the
// products, which bf16 results depend on.
func TestVersionNamesKernels(t *testing.T) {
	var out, errBuf bytes.Buffer
	if code := execute(context.Background(), []string{"--version"}, &out, &errBuf); code != 0 {
		t.Fatalf("--version: exit %d: %s", code, errBuf.String())
	}
	want := "(products: " + nn.Kernels() + ")\n"
	if got := out.String(); !strings.HasPrefix(got, "noprop version ") || !strings.HasSuffix(got, want) || !strings.Contains(want, "fp32 ") {
		t.Errorf("--version printed %q, want noprop version … %q", got, want)
	}
}
