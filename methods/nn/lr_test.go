package nn

import "testing"

// SetLR changes the rate of the next steps and keeps the optimizer's
// state: it does what setting the rate's field does, and something.
func TestSetLR(t *testing.T) {
	for _, name := range OptimizerNames {
		build := func(lr float32) LRSetter {
			cfg := DefaultOptimConfig(name)
			cfg.LR, cfg.Momentum = lr, 0.5
			o, err := NewOptimizer(name, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return o.(LRSetter)
		}
		a, b := build(0.1), build(0.1)
		pa, pb := newParamWith("w", false, 1), newParamWith("w", false, 1)
		step := func(o Optimizer, p *Param, g float32) {
			p.Grad[0] = g
			o.Step([]*Param{p})
		}
		step(a, pa, 0.5)
		step(b, pb, 0.5)
		a.SetLR(0.01)
		step(a, pa, -0.2)
		// b sets the same rate through its exported field.
		switch o := b.(type) {
		case *SGD:
			o.LR = 0.01
		case *Adam:
			o.LR = 0.01
		case *AdamW:
			o.LR = 0.01
		}
		step(b, pb, -0.2)
		if pa.Value[0] != pb.Value[0] {
			t.Errorf("%s: after SetLR %g, with the field %g", name, pa.Value[0], pb.Value[0])
		}
		c := build(0.1)
		pc := newParamWith("w", false, 1)
		step(c, pc, 0.5)
		step(c, pc, -0.2)
		if pa.Value[0] == pc.Value[0] {
			t.Errorf("%s: SetLR(0.01) changed nothing", name)
		}
	}
}
