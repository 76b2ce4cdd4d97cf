package noprop

import (
	"runtime"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
)

// TestContinuousStepNoAllocs: once their buffers and optimizer state
// exist, the training steps of NoProp-CT (sampling t, z_t and z_1, the
// network's forward and backward, the schedule's, the head's CE and the
// Adam updates), NoProp-FM and the Adjoint (through its whole solve)
// allocate nothing, at MNIST size (batch 128) and on two cores.
func TestContinuousStepNoAllocs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, tc := range []struct {
		name     string
		m        methods.Method
		settings string
		step     func(methods.Learner, nn.Matrix, []int, []int, []bool) error
	}{
		{"ct-mlp", CTMethod, `{"encoder":"mlp"}`, trainCT},
		{"ct-mlp-learned", CTMethod, `{"encoder":"mlp","embedding":"learned"}`, trainCT},
		{"ct-conv", CTMethod, `{}`, trainCT},
		{"fm-mlp", FMMethod, `{"encoder":"mlp"}`, trainFM},
		{"fm-mlp-learned", FMMethod, `{"encoder":"mlp","embedding":"learned"}`, trainFM},
		{"adjoint-mlp", AdjointMethod, `{"encoder":"mlp","timesteps":10}`, trainAdjoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name == "ct-conv" {
				t.Skip("batch-128 conv network")
			}
			l, err := tc.m.New(mnistProblem, []byte(tc.settings))
			if err != nil {
				t.Fatal(err)
			}
			x, y, act, mask := benchBatch()
			step := func() {
				if err := tc.step(l, x, y, act, mask); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if n := testing.AllocsPerRun(3, step); n != 0 {
				t.Errorf("%s: a training step allocates %v times", tc.name, n)
			}
		})
	}
}
