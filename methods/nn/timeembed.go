package nn

import (
	"fmt"
	"math"
)

// Defaults of TimeEmbedding.
const (
	// DefaultTimeScale maps t ∈ [0, 1] onto the 1000 steps of DDPM, for
	// which the embedding's frequencies were chosen.
	DefaultTimeScale = 1000
	// DefaultMaxPeriod is the transformer's 10000.
	DefaultMaxPeriod = 10000
)

// TimeEmbedding is the sinusoidal embedding of a time t ∈ [0, 1] (the noise
// level of a continuous-time diffusion), the transformer's positional
// encoding (Vaswani et al. 2017) in the form DDPM uses for its timestep:
// with h = Dim/2 and s = Scale,
//
//	y_k = sin(s·t·ω_k),  y_{h+k} = cos(s·t·ω_k),  ω_k = MaxPeriod^(−k/h),
//
// for k = 0 … h−1: sines first, then cosines, frequencies from 1 down to
// about 1/MaxPeriod. NoProp's continuous-time network feeds a 64-d one into
// its time path (paper Figure 5, "pos emb (64)"; the paper does not give
// the formula).
//
// The input has one column, t, per example; the output is rows × Dim. It has
// no parameters. The zero value with Dim set is ready to use.
type TimeEmbedding struct {
	// Dim is the embedding's width, even and at least 2.
	Dim int
	// Scale multiplies t before the sinusoids; 0 means DefaultTimeScale.
	// With t ∈ [0, 1] and Scale 1 the low frequencies would hardly move.
	Scale float64
	// MaxPeriod sets the lowest frequency; 0 means DefaultMaxPeriod.
	MaxPeriod float64

	freq       []float64 // ω_k
	freqPeriod float64   // MaxPeriod the table was computed for
	scale      float64   // Scale in use
	src        Matrix    // input of the pass (t, ṫ or the output gradient)
	out, dx, t Matrix    // owned buffers (t: the tangent)
	fwdFn      func(lo, hi int)
	bwdFn      func(lo, hi int)
	tanFn      func(lo, hi int)
}

// NewTimeEmbedding returns the embedding of the given width with the
// default scale and maximum period.
func NewTimeEmbedding(dim int) *TimeEmbedding {
	if dim < 2 || dim%2 != 0 {
		panic(fmt.Sprintf("nn.NewTimeEmbedding: dimension %d, want an even number ≥ 2", dim))
	}
	return &TimeEmbedding{Dim: dim}
}

// Params returns nothing: the embedding has no parameters.
func (e *TimeEmbedding) Params() []*Param { return nil }

// Share returns a new embedding with the same settings (see Sharer).
func (e *TimeEmbedding) Share() Layer {
	return &TimeEmbedding{Dim: e.Dim, Scale: e.Scale, MaxPeriod: e.MaxPeriod}
}

// prepare checks the settings and the input and fills the frequency table.
func (e *TimeEmbedding) prepare(x Matrix) {
	if e.Dim < 2 || e.Dim%2 != 0 {
		panic(fmt.Sprintf("nn.TimeEmbedding: dimension %d, want an even number ≥ 2", e.Dim))
	}
	if x.Cols != 1 {
		panic(fmt.Sprintf("nn.TimeEmbedding: input has %d columns, want 1 (t)", x.Cols))
	}
	period := e.MaxPeriod
	if period == 0 {
		period = DefaultMaxPeriod
	}
	e.scale = e.Scale
	if e.scale == 0 {
		e.scale = DefaultTimeScale
	}
	h := e.Dim / 2
	if len(e.freq) != h || e.freqPeriod != period {
		e.freq = make([]float64, h)
		for k := range e.freq {
			e.freq[k] = math.Pow(period, -float64(k)/float64(h))
		}
		e.freqPeriod = period
	}
	if e.fwdFn == nil {
		e.fwdFn, e.bwdFn, e.tanFn = e.fwdRange, e.bwdRange, e.tanRange
	}
}

// run runs a pass over the rows of src, split over the cores (a sine and a
// cosine per output pair).
func (e *TimeEmbedding) run(pass func(lo, hi int), src Matrix) {
	e.src = src
	ParallelFor(src.Rows, max(1, transcendentalMin/e.Dim), pass)
	e.src = Matrix{}
}

// Forward returns the embedding of every row's t.
func (e *TimeEmbedding) Forward(x Matrix, train bool) Matrix {
	e.prepare(x)
	e.out = Resize(e.out, x.Rows, e.Dim)
	e.run(e.fwdFn, x)
	return e.out
}

// Backward returns dL/dt = Σ_k s·ω_k·(dy_k·y_{h+k} − dy_{h+k}·y_k) per row,
// computed from the last Forward's output.
func (e *TimeEmbedding) Backward(dy Matrix) Matrix {
	if dy.Rows != e.out.Rows || dy.Cols != e.Dim {
		panic(fmt.Sprintf("nn.TimeEmbedding: output gradient is %d×%d, want %d×%d", dy.Rows, dy.Cols, e.out.Rows, e.Dim))
	}
	e.dx = Resize(e.dx, dy.Rows, 1)
	e.run(e.bwdFn, dy)
	return e.dx
}

// ForwardTangent returns Forward(x) and ẏ_k = s·ω_k·y_{h+k}·ṫ,
// ẏ_{h+k} = −s·ω_k·y_k·ṫ (see TangentLayer).
func (e *TimeEmbedding) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := e.Forward(x, train)
	if !hasTangent("TimeEmbedding", x, dx) {
		return y, Matrix{}
	}
	e.t = Resize(e.t, x.Rows, e.Dim)
	e.run(e.tanFn, dx)
	return y, e.t
}

func (e *TimeEmbedding) fwdRange(lo, hi int) {
	h := e.Dim / 2
	for i := lo; i < hi; i++ {
		st := e.scale * float64(e.src.Data[i])
		y := e.out.Row(i)
		for k, w := range e.freq {
			sin, cos := math.Sincos(st * w)
			y[k], y[h+k] = float32(sin), float32(cos)
		}
	}
}

func (e *TimeEmbedding) bwdRange(lo, hi int) {
	h := e.Dim / 2
	for i := lo; i < hi; i++ {
		y, g := e.out.Row(i), e.src.Row(i)
		s := 0.0
		for k, w := range e.freq {
			s += w * (float64(g[k])*float64(y[h+k]) - float64(g[h+k])*float64(y[k]))
		}
		e.dx.Data[i] = float32(e.scale * s)
	}
}

func (e *TimeEmbedding) tanRange(lo, hi int) {
	h := e.Dim / 2
	for i := lo; i < hi; i++ {
		y, t := e.out.Row(i), e.t.Row(i)
		v := e.scale * float64(e.src.Data[i])
		for k, w := range e.freq {
			t[k] = float32(v * w * float64(y[h+k]))
			t[h+k] = float32(-v * w * float64(y[k]))
		}
	}
}
