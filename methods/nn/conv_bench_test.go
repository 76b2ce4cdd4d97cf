package nn

import (
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/noprop/noprop/methods/nn/gemm"
)

// The three convolutions of the MNIST DT block's image path (docs/methods.md
// §2.2) at batch 128. The first one skips its input gradient, as it does in
// the network. Run with
//
//	go test ./methods/nn/ -run '^$' -bench Conv2D -benchtime 20x
//
// Each case runs with gonum's native Sgemm and with methods/nn/gemm behind
// blas32; GFLOP/s counts 2·m·n·k per GEMM (forward; forward+backward adds
// the weight-gradient GEMM and, except for the first layer, the
// input-gradient one). GFLOP/cpu-s divides by the process's CPU time
// instead of wall time: on a shared, loaded machine it still says how
// efficient the code is, and for two busy cores it is half the wall figure.
var convBenchCases = []struct {
	name           string
	c, h, w, oc    int
	firstLayerSkip bool
}{
	{"1to32_28x28", 1, 28, 28, 32, true},
	{"32to64_13x13", 32, 13, 13, 64, false},
	{"64to128_11x11", 64, 11, 11, 128, false},
}

func BenchmarkConv2DForward(b *testing.B)         { benchConv(b, false) }
func BenchmarkConv2DForwardBackward(b *testing.B) { benchConv(b, true) }

func benchConv(b *testing.B, backward bool) {
	const batch = 128
	for _, be := range []string{"gonum", "gemm"} {
		for _, tc := range convBenchCases {
			b.Run(be+"/"+tc.name, func(b *testing.B) {
				prev := blas32.Implementation()
				defer blas32.Use(prev)
				if be == "gonum" {
					blas32.Use(gonum.Implementation{})
				} else {
					blas32.Use(gemm.Implementation{})
				}
				rng := NewRNG(1)
				conv := NewConv2D(tc.c, tc.h, tc.w, tc.oc, 3, InitPyTorch, rng)
				conv.NoInputGrad = tc.firstLayerSkip
				x := NewMatrix(batch, tc.c*tc.h*tc.w)
				rng.FillUniform(x.Data, 1)
				y := conv.Forward(x, true)
				dy := NewMatrix(y.Rows, y.Cols)
				rng.FillUniform(dy.Data, 1)
				flops := conv.FLOPs(batch)
				if backward {
					conv.Backward(dy)
					if tc.firstLayerSkip {
						flops *= 2
					} else {
						flops *= 3
					}
				}
				b.ReportAllocs()
				n := 0
				cpu0 := cpuTime()
				for b.Loop() {
					conv.Forward(x, true)
					if backward {
						conv.Backward(dy)
					}
					n++
				}
				cpu := cpuTime() - cpu0
				b.ReportMetric(flops*float64(n)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				b.ReportMetric(flops*float64(n)/cpu.Seconds()/1e9, "GFLOP/cpu-s")
			})
		}
	}
}

// BenchmarkImagePathStep is one training step (forward + backward) of the
// whole MNIST DT image path at batch 128: CHWToHWC, three convs with ReLU,
// pooling and dropout, FC(2048→256), BatchNorm. It shows what the layers
// around the GEMMs cost.
func BenchmarkImagePathStep(b *testing.B) {
	for _, be := range []string{"gonum", "gemm"} {
		b.Run(be, func(b *testing.B) {
			prev := blas32.Implementation()
			defer blas32.Use(prev)
			if be == "gonum" {
				blas32.Use(gonum.Implementation{})
			} else {
				blas32.Use(gemm.Implementation{})
			}
			layers, _ := convImagePath(1, 28, 28)
			layers[1].(*Conv2D).NoInputGrad = true
			net := &Sequential{Layers: layers}
			x := imgRand(NewRNG(1), 128, 28*28)
			dy := imgRand(NewRNG(2), 128, 256)
			step := func() {
				net.Forward(x, true)
				g := dy
				for i := len(layers) - 1; i >= 1; i-- {
					g = layers[i].Backward(g)
				}
			}
			step() // size the buffers
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
		})
	}
}

// cpuTime is the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIm2col times the im2col rows of one example for the three
// convolutions of the CIFAR DT block (3, 32 and 64 channels in).
func BenchmarkIm2col(b *testing.B) {
	for _, tc := range []struct {
		name    string
		c, w, k int
	}{{"3ch_32x32", 3, 32, 3}, {"32ch_15x15", 32, 15, 3}, {"64ch_13x13", 64, 13, 3}} {
		b.Run(tc.name, func(b *testing.B) {
			oh, ow := tc.w-tc.k+1, tc.w-tc.k+1
			kkc := tc.k * tc.k * tc.c
			src := make([]float32, tc.c*tc.w*tc.w)
			dst := make([]float32, oh*ow*(kkc+1))
			b.SetBytes(int64(len(dst) * 4))
			for b.Loop() {
				im2colHWC(dst, kkc+1, 1, src, tc.c, tc.w, tc.k, oh, ow)
			}
		})
	}
}

// BenchmarkCol2im times the input gradient's col2im of one example for the
// second and third convolutions of the CIFAR DT block.
func BenchmarkCol2im(b *testing.B) {
	for _, tc := range []struct {
		name    string
		c, w, k int
	}{{"32ch_15x15", 32, 15, 3}, {"64ch_13x13", 64, 13, 3}} {
		b.Run(tc.name, func(b *testing.B) {
			oh, ow := tc.w-tc.k+1, tc.w-tc.k+1
			kkc := tc.k * tc.k * tc.c
			src := make([]float32, oh*ow*(kkc+1))
			dst := make([]float32, tc.c*tc.w*tc.w)
			b.SetBytes(int64(len(src) * 4))
			for b.Loop() {
				col2imHWC(dst, src, kkc+1, tc.c, tc.w, tc.k, oh, ow)
			}
		})
	}
}
