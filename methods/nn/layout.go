package nn

import "fmt"

// CHWToHWC converts examples from the datasets' CHW layout (one channel
// plane after another) to the HWC layout the conv stack uses (see Conv2D).
// For C = 1 the two layouts coincide and the layer passes its input through
// without copying.
//
// The zero value is not usable; fill C, H and W.
type CHWToHWC struct {
	// C, H and W are the channels, height and width of one example.
	C, H, W int

	out, dx, t Matrix // t: the tangent
	src, dst   Matrix // the forward pass's input and output
	dy         Matrix
	fwdFn      func(lo, hi int)
	bwdFn      func(lo, hi int)
}

// NewCHWToHWC returns the layout converter for c×h×w examples.
func NewCHWToHWC(c, h, w int) *CHWToHWC { return &CHWToHWC{C: c, H: h, W: w} }

// OutShape is the (channels, height, width) of one example (unchanged).
func (l *CHWToHWC) OutShape() (c, h, w int) { return l.C, l.H, l.W }

// Params returns nothing: the conversion has no parameters.
func (l *CHWToHWC) Params() []*Param { return nil }

// Forward returns x with every row reordered from CHW to HWC (x itself when
// C = 1).
func (l *CHWToHWC) Forward(x Matrix, train bool) Matrix {
	if x.Cols != l.C*l.H*l.W {
		panic(fmt.Sprintf("nn.CHWToHWC: input has %d columns, want %d", x.Cols, l.C*l.H*l.W))
	}
	if l.C == 1 {
		return x
	}
	l.out = l.reorder(l.out, x)
	return l.out
}

// reorder sets buf (resized) to x with every row reordered from CHW to HWC.
func (l *CHWToHWC) reorder(buf, x Matrix) Matrix {
	l.bind()
	buf = Resize(buf, x.Rows, x.Cols)
	l.src, l.dst = x, buf
	ParallelFor(x.Rows, imgExamplesPerChunk(x.Cols), l.fwdFn)
	l.src, l.dst = Matrix{}, Matrix{}
	return buf
}

// ForwardTangent returns Forward(x) and ẋ reordered the same way (see
// TangentLayer): x and ẋ themselves when C = 1.
func (l *CHWToHWC) ForwardTangent(x, dx Matrix, train bool) (Matrix, Matrix) {
	y := l.Forward(x, train)
	if !hasTangent("CHWToHWC", x, dx) {
		return y, Matrix{}
	}
	if l.C == 1 {
		return y, dx
	}
	l.t = l.reorder(l.t, dx)
	return y, l.t
}

// Share returns a new converter for the same shape (see Sharer).
func (l *CHWToHWC) Share() Layer { return NewCHWToHWC(l.C, l.H, l.W) }

// Backward reorders the gradient rows from HWC back to CHW (dy itself when
// C = 1).
func (l *CHWToHWC) Backward(dy Matrix) Matrix {
	if l.C == 1 {
		return dy
	}
	l.bind()
	l.dy = dy
	l.dx = Resize(l.dx, dy.Rows, dy.Cols)
	ParallelFor(dy.Rows, imgExamplesPerChunk(dy.Cols), l.bwdFn)
	return l.dx
}

// bind creates the worker method values once (a layer made by a struct
// literal starts without them).
func (l *CHWToHWC) bind() {
	if l.fwdFn == nil {
		l.fwdFn = l.fwdRange
		l.bwdFn = l.bwdRange
	}
}

func (l *CHWToHWC) fwdRange(lo, hi int) {
	n := l.C * l.H * l.W
	for e := lo; e < hi; e++ {
		chwToHWC(l.dst.Data[e*n:(e+1)*n], l.src.Data[e*n:(e+1)*n], l.C, l.H*l.W)
	}
}

func (l *CHWToHWC) bwdRange(lo, hi int) {
	n := l.C * l.H * l.W
	for e := lo; e < hi; e++ {
		hwcToCHW(l.dx.Data[e*n:(e+1)*n], l.dy.Data[e*n:(e+1)*n], l.C, l.H*l.W)
	}
}

// chwToHWC transposes one example from c planes of hw pixels to hw pixels
// of c channels.
func chwToHWC(dst, src []float32, c, hw int) {
	for ch := 0; ch < c; ch++ {
		plane := src[ch*hw : (ch+1)*hw]
		for p, v := range plane {
			dst[p*c+ch] = v
		}
	}
}

// hwcToCHW is the inverse of chwToHWC.
func hwcToCHW(dst, src []float32, c, hw int) {
	for ch := 0; ch < c; ch++ {
		plane := dst[ch*hw : (ch+1)*hw]
		for p := range plane {
			plane[p] = src[p*c+ch]
		}
	}
}
