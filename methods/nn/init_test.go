package nn

import (
	"math"
	"testing"
)

func TestParseInit(t *testing.T) {
	for s, want := range map[string]Init{
		"": InitPyTorch, "default": InitPyTorch, "pytorch": InitPyTorch, "He_Normal": InitHeNormal,
		" xavier-uniform": InitXavierUniform, "orthogonal": InitOrthogonal,
	} {
		got, err := ParseInit(s)
		if err != nil || got != want {
			t.Errorf("ParseInit(%q) = %q, %v; want %q", s, got, err, want)
		}
	}
	if _, err := ParseInit("lecun"); err == nil {
		t.Error("ParseInit(lecun): no error")
	}
	if Init("").String() != "pytorch" {
		t.Error(`Init("").String()`)
	}
}

func TestInitDistributions(t *testing.T) {
	const fanIn, fanOut = 200, 300
	w := make([]float32, fanIn*fanOut)
	b := make([]float32, fanOut)
	stats := func(xs []float32) (maxAbs, std float64) {
		s := 0.0
		for _, v := range xs {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			s += float64(v) * float64(v)
		}
		return maxAbs, math.Sqrt(s / float64(len(xs)))
	}
	for _, c := range []struct {
		in         Init
		limit, std float64 // limit 0: unbounded
		biasLimit  float64 // 0: zero biases
	}{
		{InitPyTorch, 1 / math.Sqrt(fanIn), 1 / math.Sqrt(3*fanIn), 1 / math.Sqrt(fanIn)},
		{InitHeNormal, 0, math.Sqrt(2.0 / fanIn), 0},
		{InitXavierUniform, math.Sqrt(6.0 / (fanIn + fanOut)), math.Sqrt(2.0 / (fanIn + fanOut)), 0},
		// fanIn orthonormal rows of length fanOut: mean square fanIn/(fanIn·fanOut).
		{InitOrthogonal, 0, 1 / math.Sqrt(fanOut), 0},
	} {
		rng := NewRNG(12)
		c.in.FillWeights(w, fanIn, fanOut, rng)
		for i := range b {
			b[i] = 1
		}
		c.in.FillBias(b, fanIn, rng)
		maxAbs, std := stats(w)
		if c.limit > 0 && maxAbs > c.limit {
			t.Errorf("%s: |w| up to %g, limit %g", c.in, maxAbs, c.limit)
		}
		if math.Abs(std-c.std) > 0.02*c.std {
			t.Errorf("%s: std %g, want %g", c.in, std, c.std)
		}
		bMax, _ := stats(b)
		if c.biasLimit == 0 && bMax != 0 || c.biasLimit > 0 && (bMax > c.biasLimit || bMax < c.biasLimit/2) {
			t.Errorf("%s: |b| up to %g, want limit %g", c.in, bMax, c.biasLimit)
		}
	}
}

// checkOrthogonal checks that the rows×cols matrix w has orthonormal rows
// (rows ≤ cols) or orthonormal columns (rows ≥ cols).
func checkOrthogonal(t *testing.T, w []float32, rows, cols int) {
	t.Helper()
	k, n := rows, cols // k vectors of length n
	at := func(v, e int) float64 { return float64(w[v*cols+e]) }
	if rows > cols {
		k, n = cols, rows
		at = func(v, e int) float64 { return float64(w[e*cols+v]) }
	}
	for a := range k {
		for b := range k {
			s := 0.0
			for e := range n {
				s += at(a, e) * at(b, e)
			}
			want := 0.0
			if a == b {
				want = 1
			}
			if math.Abs(s-want) > 1e-5 {
				t.Fatalf("%d×%d: <%d,%d> = %g, want %g", rows, cols, a, b, s, want)
			}
		}
	}
}

func TestInitOrthogonal(t *testing.T) {
	for _, s := range [][2]int{{16, 16}, {40, 9}, {9, 40}, {1, 5}} {
		w := make([]float32, s[0]*s[1])
		InitOrthogonal.FillWeights(w, s[0], s[1], NewRNG(13))
		checkOrthogonal(t, w, s[0], s[1])
	}
	// Conv-style: fan_in = C·k·k = 12 with 5 output channels, fan_out = 5·k·k.
	w := make([]float32, 12*5)
	InitOrthogonal.FillWeights(w, 12, 5*4, NewRNG(13))
	checkOrthogonal(t, w, 12, 5)
	// Deterministic for a seed.
	w2 := make([]float32, 12*5)
	InitOrthogonal.FillWeights(w2, 12, 5*4, NewRNG(13))
	for i := range w {
		if w[i] != w2[i] {
			t.Fatal("orthogonal init not deterministic")
		}
	}
	// Through NewLinear, W (in×out) is semi-orthogonal.
	l := NewLinear(30, 10, InitOrthogonal, NewRNG(14))
	checkOrthogonal(t, l.W.Value, 30, 10)
}
