package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/tasks"
)

// Spec is everything that defines one run. Its JSON form is stored with the
// run's results, so it must name every choice: Settings holds the method's
// complete resolved settings, not just the overrides.
type Spec struct {
	Method string `json:"method"`
	// Preset is the settings preset Settings was resolved from (informational).
	Preset   string          `json:"preset,omitempty"`
	Settings json.RawMessage `json:"settings"`
	Dataset  string          `json:"dataset"`
	// Stream is the stream kind: split, permuted or joint.
	Stream     string `json:"stream"`
	Tasks      int    `json:"tasks"`
	ClassOrder string `json:"class_order,omitempty"`
	Scenario   string `json:"scenario"`
	Seed       uint64 `json:"seed"`
}

// NewSpec resolves a method's settings (defaults, then preset, then the
// overrides) into a complete Spec and checks it.
func NewSpec(method, preset string, overrides json.RawMessage, dataset, stream string, numTasks int, classOrder, scenario string, seed uint64) (Spec, error) {
	m, err := catalog.Lookup(method)
	if err != nil {
		return Spec{}, err
	}
	settings, err := m.Resolve(preset, overrides)
	if err != nil {
		return Spec{}, err
	}
	s := Spec{Method: method, Preset: preset, Settings: settings, Dataset: dataset, Stream: stream,
		Tasks: numTasks, ClassOrder: classOrder, Scenario: scenario, Seed: seed}
	if stream == tasks.KindJoint {
		s.Tasks, s.ClassOrder = 1, ""
	}
	return s, s.Validate()
}

// Validate checks the parts of the spec that can be checked without data.
func (s Spec) Validate() error {
	if _, err := catalog.Lookup(s.Method); err != nil {
		return err
	}
	if _, err := tasks.ParseScenario(s.Scenario); err != nil {
		return err
	}
	switch s.Stream {
	case tasks.KindSplit, tasks.KindPermuted, tasks.KindJoint:
	default:
		return fmt.Errorf("stream %q: want one of %v", s.Stream, tasks.StreamKinds())
	}
	if s.Tasks < 1 {
		return fmt.Errorf("tasks = %d: must be at least 1", s.Tasks)
	}
	return nil
}

// JSON is the canonical JSON form of the spec.
func (s Spec) JSON() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("marshal spec: %v", err)) // Spec holds only marshalable fields
	}
	return string(b)
}

// ConfigHash identifies the spec without its seed: runs that differ only in
// the seed share it, so results can be aggregated over seeds.
func (s Spec) ConfigHash() string {
	s.Seed = 0
	// Settings are compacted through a map so key order and spacing do not
	// change the hash.
	var m map[string]any
	if err := json.Unmarshal(s.Settings, &m); err == nil {
		s.Settings, _ = json.Marshal(m)
	}
	sum := sha256.Sum256([]byte(s.JSON()))
	return hex.EncodeToString(sum[:8])
}

// StreamConfig is the stream part of the spec.
func (s Spec) StreamConfig() tasks.StreamConfig {
	return tasks.StreamConfig{Kind: s.Stream, Tasks: s.Tasks, ClassOrder: s.ClassOrder, Seed: s.Seed}
}

// CheckSettings builds nothing but checks that every spec's settings are
// accepted by its method, so a typo fails before hours of training.
func CheckSettings(specs []Spec) error {
	for _, s := range specs {
		m, err := catalog.Lookup(s.Method)
		if err != nil {
			return err
		}
		if m.Check != nil {
			if err := m.Check(s.Settings); err != nil {
				return fmt.Errorf("%s: %w", s.Method, err)
			}
		}
	}
	return nil
}
