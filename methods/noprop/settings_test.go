package noprop

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/tasks"
)

func TestSettingsDefaults(t *testing.T) {
	s, err := methods.Decode(DefaultDTSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s != DefaultDTSettings() {
		t.Errorf("empty settings differ from the defaults: %+v", s)
	}
	// The defaults are the paper's Table 4 NoProp-DT row (MNIST).
	if s.Timesteps != 10 || s.Eta != 0.1 || s.BatchSize != 128 || s.Epochs != 100 ||
		s.Optimizer != "adamw" || s.LR != 1e-3 || s.WeightDecay != 1e-3 || s.Dropout != 0.2 {
		t.Errorf("defaults are not Table 4's: %+v", s)
	}
	// Defaults round-trip through JSON, so they are the schema.
	raw, err := json.Marshal(DTMethod.Settings())
	if err != nil {
		t.Fatal(err)
	}
	if back, err := methods.Decode(DefaultDTSettings(), raw); err != nil || back != s {
		t.Errorf("defaults do not round-trip: %v, %+v", err, back)
	}
	for name, p := range DTMethod.Presets {
		if _, err := methods.Decode(DefaultDTSettings(), p); err != nil {
			t.Errorf("preset %s: %v", name, err)
		}
	}
	q, _ := methods.Decode(DefaultDTSettings(), DTMethod.Presets["quick"])
	if q.Encoder != EncoderMLP || q.Epochs != 1 {
		t.Errorf("quick preset: %+v", q)
	}
	c, _ := methods.Decode(DefaultDTSettings(), DTMethod.Presets["paper-cifar"])
	if c.Epochs != 150 {
		t.Errorf("paper-cifar preset: %d epochs", c.Epochs)
	}
}

func TestSettingsErrors(t *testing.T) {
	cases := []struct{ json, field string }{
		{`{"encoder":"resnet"}`, "encoder"},
		{`{"embedding":"random"}`, "embedding"},
		{`{"embed_dim":0}`, "embed_dim"},
		{`{"prototype_subset":1}`, "prototype_subset"},
		{`{"timesteps":0}`, "timesteps"},
		{`{"eta":0}`, "eta"},
		{`{"eta":-1}`, "eta"},
		{`{"batch_size":0}`, "batch_size"},
		{`{"batch_size":1}`, "batch_size"},
		{`{"epochs":-1}`, "epochs"},
		{`{"epochs":0,"iterations":0}`, "epochs"},
		{`{"iterations":-5}`, "iterations"},
		{`{"optimizer":"lbfgs"}`, "optimizer"},
		{`{"lr":0}`, "lr"},
		{`{"weight_decay":-0.1}`, "weight_decay"},
		{`{"init":"zeros"}`, "init"},
		{`{"dropout":1}`, "dropout"},
		{`{"dropout":-0.1}`, "dropout"},
		{`{"bn_momentum":0}`, "bn_momentum"},
		{`{"bn_momentum":1.5}`, "bn_momentum"},
		{`{"hidden":1}`, "hidden"},
		{`{"train_order":"random"}`, "train_order"},
		{`{"workers":-1}`, "workers"},
		{`{"head":"linear"}`, "head"},
		{`{"posterior_sigma":0}`, "posterior_sigma"},
		{`{"ensemble_chains":0}`, "ensemble_chains"},
		{`{"eval_batch":-1}`, "eval_batch"},
		{`{"learning_rate":0.1}`, "learning_rate"}, // unknown field
		{`{"timesteps":"ten"}`, "timesteps"},       // wrong type
		{`{"lr":0.1} {}`, "trailing"},
	}
	for _, c := range cases {
		_, err := methods.Decode(DefaultDTSettings(), json.RawMessage(c.json))
		if err == nil {
			t.Errorf("%s: accepted", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %q", c.json, err, c.field)
		}
	}
}

func TestNewErrors(t *testing.T) {
	small := tasks.Shape{C: 1, H: 8, W: 8}
	if _, err := DTMethod.New(methods.Problem{Input: small, Outputs: 10}, nil); err == nil || !strings.Contains(err.Error(), "conv") {
		t.Errorf("conv encoder on 8×8 images: %v", err)
	}
	if _, err := DTMethod.New(methods.Problem{Input: small, Outputs: 0}, json.RawMessage(`{"encoder":"mlp"}`)); err == nil {
		t.Error("0 outputs accepted")
	}
}
