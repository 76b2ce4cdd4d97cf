package noprop

import (
	"fmt"
	"math"
	"testing"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// TestScoresDoNotDependOnEvalBatch: every rule of the family scores a row
// the same whether it is pushed through the chain with 6 other rows or with
// all of them, so eval_batch is a speed setting (identity "runtime"). Each
// row's noise comes from its own stream; were the streams per chunk, the
// scores would differ by whole units. What remains is float32 rounding:
// the GEMM's kernels for a 7-row and a 40-row product add in different
// orders, which moves the last bit of some scores.
func TestScoresDoNotDependOnEvalBatch(t *testing.T) {
	p := methods.Problem{Input: tasks.Shape{C: 1, H: 1, W: 12}, Outputs: 4, Seed: 3}
	x := nn.NewMatrix(40, 12)
	nn.NewRNG(7).FillUniform(x.Data, 1)
	for _, tc := range []struct {
		method methods.Method
		extra  string
	}{
		{DTMethod, `"timesteps":3`},
		{BackpropDTMethod, `"timesteps":3`},
		{CTMethod, `"timesteps":4`},
		{FMMethod, `"timesteps":4`},
		{AdjointMethod, `"timesteps":4`},
	} {
		t.Run(tc.method.Name, func(t *testing.T) {
			scores := map[int]nn.Matrix{}
			for _, eb := range []int{7, 64} {
				raw := fmt.Sprintf(`{"encoder":"mlp","hidden":16,"embed_dim":8,"batch_size":16,"eval_batch":%d,%s}`, eb, tc.extra)
				l, err := tc.method.New(p, []byte(raw))
				if err != nil {
					t.Fatal(err)
				}
				if s, ok := l.(interface{ SetInferenceSeed(uint64) }); ok {
					s.SetInferenceSeed(5)
				}
				scores[eb] = l.Scores(x, nil)
			}
			for k, v := range scores[7].Data {
				w := scores[64].Data[k]
				if d := math.Abs(float64(v - w)); d > 1e-5*max(1, math.Abs(float64(w))) {
					t.Fatalf("score %d: %v with eval_batch 7, %v with 64", k, v, w)
				}
			}
		})
	}
}
