package methods

import (
	"encoding/json"
	"strings"
	"testing"
)

type testSettings struct {
	LR     float64 `json:"lr"`
	Hidden []int   `json:"hidden"`
	Name   string  `json:"name"`
}

func TestDecodeSettings(t *testing.T) {
	tests := []struct {
		raw     string
		want    testSettings
		wantErr string
	}{
		{"", testSettings{LR: 1, Name: "x"}, ""},
		{`{"lr":0.5}`, testSettings{LR: 0.5, Name: "x"}, ""},
		{`{"hidden":[3,4]}`, testSettings{LR: 1, Hidden: []int{3, 4}, Name: "x"}, ""},
		{`{"lr":0.5,"lrr":1}`, testSettings{}, `unknown field "lrr"`},
		{`{"lr":"high"}`, testSettings{}, "lr"},
		{`{"lr":0.5} {"lr":2}`, testSettings{}, "trailing data"},
		{`[1]`, testSettings{}, "cannot unmarshal"},
	}
	for _, tc := range tests {
		got := testSettings{LR: 1, Name: "x"}
		err := DecodeSettings(json.RawMessage(tc.raw), &got)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.LR != tc.want.LR || got.Name != tc.want.Name || len(got.Hidden) != len(tc.want.Hidden) {
			t.Errorf("%s: got %+v, %v; want %+v", tc.raw, got, err, tc.want)
		}
	}
}

func TestResolveLayersDefaultsPresetOverrides(t *testing.T) {
	m := Method{
		Name:     "m",
		Defaults: func() any { return testSettings{LR: 1, Hidden: []int{8}, Name: "d"} },
		Presets:  map[string]json.RawMessage{"quick": json.RawMessage(`{"lr":0.1,"name":"q"}`)},
	}
	got, err := m.Resolve("quick", json.RawMessage(`{"name":"o"}`))
	if err != nil {
		t.Fatal(err)
	}
	var s testSettings
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if s.LR != 0.1 || s.Name != "o" || len(s.Hidden) != 1 || s.Hidden[0] != 8 {
		t.Errorf("resolved %s, want lr from the preset, name from the override, hidden from the defaults", got)
	}
	if _, err := m.Resolve("paper", nil); err == nil || !strings.Contains(err.Error(), "quick") {
		t.Errorf("unknown preset: error %v should list the presets", err)
	}
	if _, err := m.Resolve("", json.RawMessage(`[1,2]`)); err == nil {
		t.Error("an override that is not an object was accepted")
	}
}
