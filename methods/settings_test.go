package methods

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

type Block struct {
	Lo int `json:"lo" range:"[0,)" help:"lower"`
	Hi int `json:"hi" range:"[0,)" help:"upper"`
}

func (b Block) CheckBlock() error {
	if b.Hi < b.Lo {
		return Invalid("hi", b.Hi, "must be at least lo (%d)", b.Lo)
	}
	return nil
}

type testSettings struct {
	LR     float64 `json:"lr" range:"(0,)" help:"learning rate"`
	Drop   float64 `json:"drop" range:"[0,1)" help:"drop probability"`
	Hidden []int   `json:"hidden" range:"[1,)" help:"widths"`
	Name   string  `json:"name" enum:"x|y" help:"a name"`
	Flag   bool    `json:"flag" help:"a switch"`
	Block
	Training
}

func (s testSettings) Validate() error {
	if s.Name == "y" && s.Flag {
		return Invalid("flag", s.Flag, "cannot be set with name y")
	}
	return nil
}

func defaults() *testSettings {
	return &testSettings{LR: 1, Name: "x", Hidden: []int{8}, Training: DefaultTraining(4, 1, 0)}
}

func TestDecodeSettings(t *testing.T) {
	tests := []struct {
		raw     string
		wantErr string
	}{
		{"", ""},
		{`{"lr":0.5,"hidden":[3,4],"lo":1,"hi":2}`, ""},
		{`{"lr":0.5,"lrr":1}`, `unknown setting "lrr" (did you mean "lr"?)`},
		{`{"zzzzzz":1}`, `unknown setting "zzzzzz"`},
		{`{"lr":"high"}`, "setting lr: got a JSON string, want a number"},
		{`{"hidden":"wide"}`, "setting hidden: got a JSON string, want a list of integers"},
		{`{"lr":0.5} {"lr":2}`, "trailing data"},
		{`[1]`, "want a JSON object"},
		{`{"lr":`, "not valid JSON"},
		{`{"lr":0}`, "setting lr = 0: must be > 0"},
		{`{"lr":-1}`, "setting lr = -1: must be > 0"},
		{`{"drop":1}`, "setting drop = 1: must be in [0, 1)"},
		{`{"hidden":[4,0]}`, "setting hidden = [4,0]: element 2 must be at least 1"},
		{`{"name":"z"}`, `setting name = "z": must be one of x, y`},
		{`{"lo":-1}`, "setting lo = -1: must be at least 0"},
		{`{"lo":3,"hi":2}`, "setting hi = 2: must be at least lo (3)"},           // the embedded block's check
		{`{"epochs":0}`, "setting epochs = 0: epochs and iterations are both 0"}, // a second embedded block's check
		{`{"name":"y","flag":true}`, "setting flag = true: cannot be set with name y"},
		{`{"batch_size":0}`, "setting batch_size = 0: must be in [1, 65536]"},
		{`{"lr":1e300}`, "setting lr = 1e+300: is too large: settings are used as 32-bit floats"},
		{`{"lr":1e-60}`, "setting lr = 1e-60: is too small"},
		{`{"batch_size":9223372036854775807}`, "setting batch_size = 9223372036854775807: must be in [1, 65536]"},
	}
	for _, tc := range tests {
		got := defaults()
		err := DecodeSettings(json.RawMessage(tc.raw), got)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.raw, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.raw, err, tc.wantErr)
		}
	}
	s := defaults()
	s.LR = math.NaN()
	if err := CheckSettings(s); err == nil || !strings.Contains(err.Error(), "setting lr = NaN: must be a finite number") {
		t.Errorf("NaN lr: %v", err)
	}
}

func TestFieldsDocumentEverySetting(t *testing.T) {
	fields := Fields(defaults())
	byName := map[string]Field{}
	for _, f := range fields {
		if f.Help == "" {
			t.Errorf("setting %s has no help", f.Name)
		}
		byName[f.Name] = f
	}
	for _, want := range []Field{
		{Name: "lr", Type: "float", Default: "1", Allowed: "> 0", Help: "learning rate"},
		{Name: "drop", Type: "float", Default: "0", Allowed: "in [0, 1)", Help: "drop probability"},
		{Name: "hidden", Type: "[int]", Default: "[8]", Allowed: "at least 1", Help: "widths"},
		{Name: "name", Type: "string", Default: `"x"`, Allowed: "x, y", Help: "a name"},
		{Name: "flag", Type: "bool", Default: "false", Allowed: "true, false", Help: "a switch"},
		{Name: "lo", Type: "int", Default: "0", Allowed: "at least 0", Help: "lower"},
		{Name: "batch_size", Type: "int", Default: "4", Allowed: "in [1, 65536]", Help: "examples per minibatch"},
	} {
		if got := byName[want.Name]; got != want {
			t.Errorf("field %s documented as %+v, want %+v", want.Name, got, want)
		}
	}
	if len(fields) != 7+len(Fields(&Training{})) {
		t.Errorf("%d fields, want every setting once", len(fields))
	}
}

func TestResolveLayersDefaultsPresetOverrides(t *testing.T) {
	m := Method{
		Name:     "m",
		Settings: func() any { return defaults() },
		Presets:  map[string]json.RawMessage{"quick": json.RawMessage(`{"lr":0.1,"name":"y"}`)},
	}
	got, err := m.Resolve("quick", json.RawMessage(`{"drop":0.5}`))
	if err != nil {
		t.Fatal(err)
	}
	var s testSettings
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if s.LR != 0.1 || s.Name != "y" || s.Drop != 0.5 || len(s.Hidden) != 1 || s.Hidden[0] != 8 {
		t.Errorf("resolved %s, want lr and name from the preset, drop from the override, hidden from the defaults", got)
	}
	if _, err := m.Resolve("paper", nil); err == nil || !strings.Contains(err.Error(), "quick") {
		t.Errorf("unknown preset: error %v should list the presets", err)
	}
	if _, err := m.Resolve("", json.RawMessage(`[1,2]`)); err == nil {
		t.Error("an override that is not an object was accepted")
	}
	if _, err := m.Resolve("quick", json.RawMessage(`{"flag":true}`)); err == nil || !strings.Contains(err.Error(), "m:quick: setting flag") {
		t.Errorf("a preset plus an override that conflict: %v", err)
	}
	if err := m.Check(json.RawMessage(`{"lr":-2}`)); err == nil {
		t.Error("Check accepted lr = -2")
	}
}
