package catalog

import (
	"strings"
	"testing"

	"github.com/noprop/noprop/methods/methodtest"
)

// TestConformance runs the conformance suite over every catalog entry and
// preset: a rule is proven by being listed.
func TestConformance(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All {
		if seen[m.Name] {
			t.Errorf("method %s listed twice", m.Name)
		}
		seen[m.Name] = true
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			methodtest.Test(t, m)
		})
	}
}

// TestPrecisionIdentity: precision fp32, the default, is not part of any
// rule's identity (runs stored before the setting existed keep their
// configuration hash); bf16 is.
func TestPrecisionIdentity(t *testing.T) {
	for _, m := range All {
		s, err := m.Resolve("", nil)
		if err != nil {
			t.Fatal(err)
		}
		id, err := m.Identity(s)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(id), "precision") {
			t.Errorf("%s: the default precision is in the identity: %s", m.Name, id)
		}
		bf := strings.Replace(string(s), `"precision":"fp32"`, `"precision":"bf16"`, 1)
		if bf == string(s) {
			t.Errorf("%s: no precision in the resolved settings %s", m.Name, s)
			continue
		}
		id, err = m.Identity([]byte(bf))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(id), `"precision":"bf16"`) {
			t.Errorf("%s: precision bf16 is not in the identity: %s", m.Name, id)
		}
	}
}
