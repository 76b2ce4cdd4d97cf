package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/noprop/noprop/harness"
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
