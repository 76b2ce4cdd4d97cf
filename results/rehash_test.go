package results

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRehash: stored runs take the hashes of the current identity rules,
// none is lost, done units are found under their new hash, requested reruns
// follow, and a spec the rules do not know keeps its hash.
func TestRehash(t *testing.T) {
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Two configurations that differ only in a runtime setting, and one of
	// an unknown method.
	a := testRun("m", "old-a", 1, 1)
	a.SpecJSON = `{"method":"m","runtime":1}`
	b := testRun("m", "old-b", 2, 1)
	b.SpecJSON = `{"method":"m","runtime":2}`
	u := testRun("gone", "old-u", 1, 1)
	u.SpecJSON = `{"method":"gone"}`
	for _, r := range []Run{a, b, u} {
		completeRun(t, s, r, [][]float64{{50}, {90}}, nil, Memory{})
	}
	if _, err := s.RequestRerun(ctx, []Unit{{"old-b", 2}}); err != nil {
		t.Fatal(err)
	}
	hash := func(spec string) (string, bool) {
		if strings.Contains(spec, `"gone"`) {
			return "", false
		}
		return "new-m", true
	}
	n, err := s.Rehash(ctx, hash)
	if err != nil || n != 2 {
		t.Fatalf("Rehash: %d changed, %v; want 2", n, err)
	}
	runs, _ := s.Runs(ctx, Filter{})
	if len(runs) != 3 {
		t.Fatalf("%d runs after rehash, want 3", len(runs))
	}
	if _, ok, _ := s.FindDone(ctx, "new-m", 1); !ok {
		t.Error("seed 1 is not done under the new hash")
	}
	// Seed 2 was requested to run again: its rerun followed it, so it is
	// not done until it runs.
	if _, ok, _ := s.FindDone(ctx, "new-m", 2); ok {
		t.Error("seed 2 counts as done although a rerun was requested")
	}
	if _, ok, _ := s.FindDone(ctx, "old-u", 1); !ok {
		t.Error("the unknown method's run lost its hash")
	}
	if n, err := s.Rehash(ctx, hash); err != nil || n != 0 {
		t.Errorf("second Rehash: %d, %v; want nothing to change", n, err)
	}
}
