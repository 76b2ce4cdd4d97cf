package nn

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Init names a weight initialisation scheme. Settings strings carry it as
// text (see ParseInit); the zero value "" means InitPyTorch.
type Init string

// The supported schemes. Fan-in and fan-out are passed explicitly to the fill
// functions, so convolutions use them with fan_in = C·k·k.
const (
	// InitPyTorch is PyTorch's nn.Linear / nn.Conv default: weights and
	// biases U(-1/√fan_in, 1/√fan_in). It is the default everywhere so that
	// results compare with PyTorch reference runs.
	InitPyTorch Init = "pytorch"
	// InitHeNormal is kaiming_normal_ (fan_in mode, ReLU gain):
	// N(0, 2/fan_in) weights, zero biases.
	InitHeNormal Init = "he-normal"
	// InitXavierUniform is xavier_uniform_ with gain 1:
	// U(±√(6/(fan_in+fan_out))) weights, zero biases.
	InitXavierUniform Init = "xavier-uniform"
	// InitOrthogonal is orthogonal_ with gain 1: a (semi-)orthogonal weight
	// matrix from the QR factorisation of a Gaussian matrix, zero biases.
	InitOrthogonal Init = "orthogonal"
)

// Inits lists the schemes ParseInit accepts.
var Inits = []Init{InitPyTorch, InitHeNormal, InitXavierUniform, InitOrthogonal}

// ParseInit reads an Init from a settings string. Case and surrounding space
// are ignored; "" and "default" give InitPyTorch; "_" may stand for "-".
func ParseInit(s string) (Init, error) {
	s = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-")
	if s == "" || s == "default" {
		return InitPyTorch, nil
	}
	for _, in := range Inits {
		if Init(s) == in {
			return in, nil
		}
	}
	return "", fmt.Errorf("nn: unknown init %q (want one of %v)", s, Inits)
}

// String returns the settings-string spelling.
func (in Init) String() string {
	if in == "" {
		return string(InitPyTorch)
	}
	return string(in)
}

// FillWeights initialises a weight tensor w whose layer has the given fan-in
// (inputs per output unit: in for Linear, C·k·k for a convolution) and
// fan-out. It panics on an unknown scheme (ParseInit validates settings).
//
// InitOrthogonal views w as a fanIn × len(w)/fanIn row-major matrix. A
// matrix with orthonormal rows transposes into one with orthonormal columns,
// so the result is (semi-)orthogonal whether the layer stores its weights as
// in×out (Linear) or out×in.
func (in Init) FillWeights(w []float32, fanIn, fanOut int, rng *RNG) {
	if fanIn <= 0 || fanOut <= 0 {
		panic(fmt.Sprintf("nn: FillWeights: fan_in %d and fan_out %d must be positive", fanIn, fanOut))
	}
	switch in {
	case "", InitPyTorch:
		rng.FillUniform(w, float32(1/math.Sqrt(float64(fanIn))))
	case InitHeNormal:
		rng.FillNormal(w, float32(math.Sqrt(2/float64(fanIn))))
	case InitXavierUniform:
		rng.FillUniform(w, float32(math.Sqrt(6/float64(fanIn+fanOut))))
	case InitOrthogonal:
		if len(w)%fanIn != 0 {
			panic(fmt.Sprintf("nn: orthogonal init: %d weights is not a multiple of fan_in %d", len(w), fanIn))
		}
		fillOrthogonal(w, fanIn, len(w)/fanIn, rng)
	default:
		panic(fmt.Sprintf("nn: unknown init %q", string(in)))
	}
}

// FillBias initialises a bias vector: U(±1/√fan_in) for InitPyTorch, zero for
// the other schemes (the usual pairing for them).
func (in Init) FillBias(b []float32, fanIn int, rng *RNG) {
	switch in {
	case "", InitPyTorch:
		if fanIn <= 0 {
			panic(fmt.Sprintf("nn: FillBias: fan_in %d must be positive", fanIn))
		}
		rng.FillUniform(b, float32(1/math.Sqrt(float64(fanIn))))
	case InitHeNormal, InitXavierUniform, InitOrthogonal:
		clear(b)
	default:
		panic(fmt.Sprintf("nn: unknown init %q", string(in)))
	}
}

// fillOrthogonal writes a rows×cols (semi-)orthogonal matrix into w the way
// torch.nn.init.orthogonal_ does: QR of a Gaussian matrix (transposed first
// when it is wide), Q's columns multiplied by the signs of R's diagonal so the
// distribution is uniform (Haar), transposed back if needed.
func fillOrthogonal(w []float32, rows, cols int, rng *RNG) {
	m, n := rows, cols
	wide := rows < cols
	if wide {
		m, n = cols, rows
	}
	// a is the m×n (m ≥ n) Gaussian matrix, row-major. The Gaussian values
	// are drawn in the layout of w, so the draw order does not depend on the
	// transposition.
	a := blas64.General{Rows: m, Cols: n, Stride: n, Data: make([]float64, m*n)}
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			v := float64(rng.Norm32())
			if wide {
				a.Data[j*n+i] = v
			} else {
				a.Data[i*n+j] = v
			}
		}
	}
	tau := make([]float64, n)
	work := []float64{0}
	lapack64.Geqrf(a, tau, work, -1)
	lwork := int(work[0])
	lapack64.Orgqr(a, tau, work, -1)
	lwork = max(lwork, int(work[0]), 1)
	work = make([]float64, lwork)
	lapack64.Geqrf(a, tau, work, lwork)
	sign := make([]float64, n)
	for j := range n {
		sign[j] = 1
		if a.Data[j*n+j] < 0 {
			sign[j] = -1
		}
	}
	lapack64.Orgqr(a, tau, work, lwork)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			v := float32(a.Data[i*n+j] * sign[j])
			if wide {
				w[j*cols+i] = v
			} else {
				w[i*cols+j] = v
			}
		}
	}
}
