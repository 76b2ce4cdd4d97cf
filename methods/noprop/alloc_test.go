package noprop

import (
	"runtime"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// TestStepNoAllocs: once its buffers and optimizer state exist, a
// NoProp-DT training step (sampling z_{t−1}, the block's forward and
// backward, the loss, the head's CE step and the AdamW updates of θ_t and
// θ_out) allocates nothing, with both encoders, at MNIST size (batch 128)
// and on two cores, where the GEMMs and the element-wise passes split.
func TestStepNoAllocs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for _, tc := range []struct{ name, settings string }{
		{"mlp", `{"encoder":"mlp"}`},
		{"mlp-learned", `{"encoder":"mlp","embedding":"learned"}`},
		{"conv", `{"encoder":"conv"}`},
		{"mlp-bf16", `{"encoder":"mlp","precision":"bf16"}`}, // fp32 where the CPU has no bf16
		{"conv-bf16", `{"encoder":"conv","precision":"bf16"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && (tc.name == "conv" || tc.name == "conv-bf16") {
				t.Skip("batch-128 conv block")
			}
			p := methods.Problem{Input: tasks.Shape{C: 1, H: 28, W: 28}, Outputs: 10, Seed: 1}
			lr, err := DTMethod.New(p, []byte(tc.settings))
			if err != nil {
				t.Fatal(err)
			}
			l := lr.(*DTLearner)
			x := nn.NewMatrix(128, 784)
			nn.NewRNG(2).FillUniform(x.Data, 1)
			y := make([]int, 128)
			for i := range y {
				y[i] = i % 10
			}
			mask := make([]bool, 10)
			for i := range mask {
				mask[i] = true
			}
			bs := l.blocks[4]
			step := func() {
				if _, err := l.sequentialStep(bs, methods.Batch{X: x, Y: y, Mask: mask}); err != nil {
					t.Fatal(err)
				}
			}
			step()
			if n := testing.AllocsPerRun(5, step); n != 0 {
				t.Errorf("%s: a training step allocates %v times", tc.name, n)
			}
		})
	}
}
