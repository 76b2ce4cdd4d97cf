package methods

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
)

// DecodeSettings decodes a JSON object of settings into dst, which holds the
// defaults on entry. Fields not named in raw keep their defaults; a field dst
// does not have is an error, so a typo never passes silently.
func DecodeSettings(raw json.RawMessage, dst any) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("settings: trailing data after the JSON object")
	}
	return nil
}

// MergeSettings overlays JSON objects left to right (later keys win, one level
// deep) and returns the merged object. Empty layers are skipped.
func MergeSettings(layers ...json.RawMessage) (json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for i, l := range layers {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(l, &m); err != nil {
			return nil, fmt.Errorf("settings layer %d: want a JSON object: %w", i+1, err)
		}
		maps.Copy(out, m)
	}
	return json.Marshal(out)
}

// Resolve returns the complete settings of method m: its defaults, then the
// named preset (if any), then the overrides. The result names every field, so
// it records exactly what a run used.
func (m Method) Resolve(preset string, overrides json.RawMessage) (json.RawMessage, error) {
	defaults, err := json.Marshal(m.Defaults())
	if err != nil {
		return nil, fmt.Errorf("%s defaults: %w", m.Name, err)
	}
	var p json.RawMessage
	if preset != "" {
		var ok bool
		if p, ok = m.Presets[preset]; !ok {
			return nil, fmt.Errorf("method %s has no preset %q (presets: %v)", m.Name, preset, presetNames(m))
		}
	}
	return MergeSettings(defaults, p, overrides)
}

func presetNames(m Method) []string { return slices.Sorted(maps.Keys(m.Presets)) }
