package nn

import "gonum.org/v1/gonum/blas/blas32"

// Matrix is a dense row-major float32 matrix with contiguous rows.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// NewMatrix returns a zeroed rows×cols matrix.
func NewMatrix(rows, cols int) Matrix {
	return Matrix{Rows: rows, Cols: cols, Data: make([]float32, rows*cols)}
}

// Row returns row i; the slice aliases m.Data.
func (m Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// Slice returns rows [from, to) as a matrix that aliases m.Data.
func (m Matrix) Slice(from, to int) Matrix {
	return Matrix{Rows: to - from, Cols: m.Cols, Data: m.Data[from*m.Cols : to*m.Cols]}
}

// General views m as a blas32.General.
func (m Matrix) General() blas32.General {
	return blas32.General{Rows: m.Rows, Cols: m.Cols, Stride: m.Cols, Data: m.Data}
}

// Resize returns a rows×cols matrix that reuses buf's storage when it is large
// enough; the contents are unspecified. Layers use it to keep one buffer per
// output across steps of varying batch size.
func Resize(buf Matrix, rows, cols int) Matrix {
	n := rows * cols
	if cap(buf.Data) < n {
		buf.Data = make([]float32, n)
	}
	return Matrix{Rows: rows, Cols: cols, Data: buf.Data[:n]}
}
