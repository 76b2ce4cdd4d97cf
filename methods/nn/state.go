package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// A learner's whole state (parameters, optimizer moments, running
// statistics, the state of every random stream, where its training stands)
// is walked by one function that takes a StateVisitor, once with a
// StateWriter to save it and once with a StateReader to restore it. The same
// code path does both, so save and restore cannot disagree on what or in
// which order; the reader checks every name and size against what was
// written.

// StateVisitor visits the pieces of a state in a fixed order. Restoring
// fills the given slices and pointers in place.
type StateVisitor interface {
	Floats(name string, v []float32)
	Float64s(name string, v []float64)
	Ints(name string, v []int)
	Bools(name string, v []bool)
	Int(name string, v *int)
	Uint64(name string, v *uint64)
	Float64(name string, v *float64)
	Bool(name string, v *bool)
	// Blob visits a piece whose size may change (a list, a generator's
	// state): save writes get(), restore calls set with what was saved.
	Blob(name string, get func() []byte, set func([]byte) error)
	// Err is the first error met.
	Err() error
}

// stateMagic starts every encoded state, with its format version.
const stateMagic = "NPSTATE1"

// StateWriter saves a state: every visit writes a named record to the
// writer it was made with, as it goes, so that saving a state holds no copy
// of it in memory (a learner's state can be hundreds of megabytes).
type StateWriter struct {
	w       io.Writer
	err     error
	scratch []byte // encodes a record's values a piece at a time
}

// stateChunk bounds the scratch buffer of a StateWriter.
const stateChunk = 64 << 10

// NewStateWriter returns a writer that writes a state to w; see Err for
// the first write error. Wrap a file in a bufio.Writer.
func NewStateWriter(w io.Writer) *StateWriter {
	sw := &StateWriter{w: w}
	sw.write([]byte(stateMagic))
	return sw
}

// Err is the first error met writing.
func (w *StateWriter) Err() error { return w.err }

func (w *StateWriter) write(b []byte) {
	if w.err == nil {
		_, w.err = w.w.Write(b)
	}
}

// header writes a record's kind, name and payload length.
func (w *StateWriter) header(name string, kind byte, size int) {
	var hdr [1 + 2*binary.MaxVarintLen64]byte
	hdr[0] = kind
	n := 1 + binary.PutUvarint(hdr[1:], uint64(len(name)))
	w.write(hdr[:n])
	w.write([]byte(name))
	w.write(hdr[:binary.PutUvarint(hdr[:], uint64(size))])
}

func (w *StateWriter) record(name string, kind byte, payload []byte) {
	w.header(name, kind, len(payload))
	w.write(payload)
}

// values writes a record of n values of width bytes each, put(b, i) encoding
// value i into b, through the scratch buffer.
func (w *StateWriter) values(name string, kind byte, n, width int, put func(b []byte, i int)) {
	w.header(name, kind, n*width)
	if cap(w.scratch) < stateChunk {
		w.scratch = make([]byte, stateChunk)
	}
	per := stateChunk / width
	for lo := 0; lo < n; lo += per {
		hi := min(n, lo+per)
		b := w.scratch[:(hi-lo)*width]
		for i := lo; i < hi; i++ {
			put(b[(i-lo)*width:], i)
		}
		w.write(b)
	}
}

// The kinds of record.
const (
	kindFloats byte = iota + 1
	kindFloat64s
	kindInts
	kindBools
	kindScalar
	kindBytes
)

// Floats writes a floats record (see StateVisitor).
func (w *StateWriter) Floats(name string, v []float32) {
	w.values(name, kindFloats, len(v), 4, func(b []byte, i int) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(v[i]))
	})
}

// Float64s writes a float64s record (see StateVisitor).
func (w *StateWriter) Float64s(name string, v []float64) {
	w.values(name, kindFloat64s, len(v), 8, func(b []byte, i int) {
		binary.LittleEndian.PutUint64(b, math.Float64bits(v[i]))
	})
}

// Ints writes an ints record (see StateVisitor).
func (w *StateWriter) Ints(name string, v []int) {
	w.values(name, kindInts, len(v), 8, func(b []byte, i int) {
		binary.LittleEndian.PutUint64(b, uint64(int64(v[i])))
	})
}

// Bools writes a bools record (see StateVisitor).
func (w *StateWriter) Bools(name string, v []bool) {
	w.values(name, kindBools, len(v), 1, func(b []byte, i int) {
		b[0] = 0
		if v[i] {
			b[0] = 1
		}
	})
}

func (w *StateWriter) scalar(name string, u uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], u)
	w.record(name, kindScalar, b[:])
}

// Int writes an int record (see StateVisitor).
func (w *StateWriter) Int(name string, v *int) { w.scalar(name, uint64(int64(*v))) }

// Uint64 writes a uint64 record (see StateVisitor).
func (w *StateWriter) Uint64(name string, v *uint64) { w.scalar(name, *v) }

// Float64 writes a float64 record (see StateVisitor).
func (w *StateWriter) Float64(name string, v *float64) { w.scalar(name, math.Float64bits(*v)) }

// Bool writes a bool record (see StateVisitor).
func (w *StateWriter) Bool(name string, v *bool) {
	var u uint64
	if *v {
		u = 1
	}
	w.scalar(name, u)
}

// Blob writes a blob record (see StateVisitor).
func (w *StateWriter) Blob(name string, get func() []byte, _ func([]byte) error) {
	w.record(name, kindBytes, get())
}

// ErrStateMismatch is wrapped by the errors of a StateReader whose state
// does not fit what it restores into (another learner, other settings, or a
// damaged file).
var ErrStateMismatch = errors.New("saved state does not match")

// StateReader restores a state saved by a StateWriter.
type StateReader struct {
	r   *bytes.Reader
	err error
}

// NewStateReader reads the state in b.
func NewStateReader(b []byte) *StateReader {
	sr := &StateReader{r: bytes.NewReader(b)}
	head := make([]byte, len(stateMagic))
	if _, err := io.ReadFull(sr.r, head); err != nil || string(head) != stateMagic {
		sr.err = fmt.Errorf("%w: not a saved state (bad header)", ErrStateMismatch)
	}
	return sr
}

// Err is the first error met; nil after a complete, matching restore.
func (sr *StateReader) Err() error { return sr.err }

// Done checks that every record was restored.
func (sr *StateReader) Done() error {
	if sr.err == nil && sr.r.Len() != 0 {
		sr.err = fmt.Errorf("%w: %d bytes left after the last piece", ErrStateMismatch, sr.r.Len())
	}
	return sr.err
}

func (sr *StateReader) next(name string, kind byte) []byte {
	if sr.err != nil {
		return nil
	}
	fail := func(format string, args ...any) []byte {
		sr.err = fmt.Errorf("%w: at %s: %s", ErrStateMismatch, name, fmt.Sprintf(format, args...))
		return nil
	}
	k, err := sr.r.ReadByte()
	if err != nil {
		return fail("the state ends early")
	}
	n, err := binary.ReadUvarint(sr.r)
	if err != nil || n > uint64(sr.r.Len()) {
		return fail("damaged name")
	}
	got := make([]byte, n)
	io.ReadFull(sr.r, got)
	if string(got) != name || k != kind {
		return fail("found %q", got)
	}
	n, err = binary.ReadUvarint(sr.r)
	if err != nil || n > uint64(sr.r.Len()) {
		return fail("damaged length")
	}
	payload := make([]byte, n)
	io.ReadFull(sr.r, payload)
	return payload
}

func (sr *StateReader) sized(name string, kind byte, n, width int) []byte {
	b := sr.next(name, kind)
	if b != nil && len(b) != n*width {
		sr.err = fmt.Errorf("%w: at %s: %d values saved, %d here", ErrStateMismatch, name, len(b)/width, n)
		return nil
	}
	return b
}

// Floats restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Floats(name string, v []float32) {
	if b := sr.sized(name, kindFloats, len(v), 4); b != nil {
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
}

// Float64s restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Float64s(name string, v []float64) {
	if b := sr.sized(name, kindFloat64s, len(v), 8); b != nil {
		for i := range v {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	}
}

// Ints restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Ints(name string, v []int) {
	if b := sr.sized(name, kindInts, len(v), 8); b != nil {
		for i := range v {
			v[i] = int(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
}

// Bools restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Bools(name string, v []bool) {
	if b := sr.sized(name, kindBools, len(v), 1); b != nil {
		for i := range v {
			v[i] = b[i] != 0
		}
	}
}

func (sr *StateReader) scalar(name string) (uint64, bool) {
	b := sr.sized(name, kindScalar, 1, 8)
	if b == nil {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// Int restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Int(name string, v *int) {
	if u, ok := sr.scalar(name); ok {
		*v = int(int64(u))
	}
}

// Uint64 restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Uint64(name string, v *uint64) {
	if u, ok := sr.scalar(name); ok {
		*v = u
	}
}

// Float64 restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Float64(name string, v *float64) {
	if u, ok := sr.scalar(name); ok {
		*v = math.Float64frombits(u)
	}
}

// Bool restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Bool(name string, v *bool) {
	if u, ok := sr.scalar(name); ok {
		*v = u != 0
	}
}

// Blob restores the next record, which must be named name (see StateVisitor).
func (sr *StateReader) Blob(name string, _ func() []byte, set func([]byte) error) {
	b := sr.next(name, kindBytes)
	if b == nil || sr.err != nil {
		return
	}
	if err := set(b); err != nil {
		sr.err = fmt.Errorf("%w: at %s: %v", ErrStateMismatch, name, err)
	}
}

// VisitState visits the generator's position.
func (g *RNG) VisitState(v StateVisitor, name string) {
	v.Blob(name, func() []byte {
		b, _ := g.pcg.MarshalBinary() // PCG's marshalling cannot fail
		return b
	}, g.pcg.UnmarshalBinary)
}

// VisitParams visits the values of params in order; a ParamVisitor is
// handed each tensor first.
func VisitParams(v StateVisitor, name string, params []*Param) {
	pv, _ := v.(ParamVisitor)
	for i, p := range params {
		if pv != nil {
			pv.Param(p)
		}
		v.Floats(fmt.Sprintf("%s/%d:%s", name, i, p.Name), p.Value)
	}
}

// ParamVisitor is a StateVisitor that also wants the parameter tensors
// themselves, not only their values: a learner's state walk reaches every
// tensor it trains, so a setting of the tensors can be applied to a whole
// learner through it (SetProductsOf).
type ParamVisitor interface {
	StateVisitor
	Param(p *Param)
}

// SetProductsOf sets the precision of every parameter tensor that the
// state walk visit reaches (a learner's VisitState).
func SetProductsOf(p Precision, visit func(StateVisitor)) {
	visit(&productsVisitor{p: p})
}

// productsVisitor sets Param.Products and ignores the values.
type productsVisitor struct{ p Precision }

func (v *productsVisitor) Param(q *Param)                               { q.Products = v.p }
func (*productsVisitor) Floats(string, []float32)                       {}
func (*productsVisitor) Float64s(string, []float64)                     {}
func (*productsVisitor) Ints(string, []int)                             {}
func (*productsVisitor) Bools(string, []bool)                           {}
func (*productsVisitor) Int(string, *int)                               {}
func (*productsVisitor) Uint64(string, *uint64)                         {}
func (*productsVisitor) Float64(string, *float64)                       {}
func (*productsVisitor) Bool(string, *bool)                             {}
func (*productsVisitor) Blob(string, func() []byte, func([]byte) error) {}
func (*productsVisitor) Err() error                                     { return nil }

// StatefulLayer is implemented by layers that hold state besides their
// parameters (BatchNorm's running statistics, Dropout's random stream) or
// that contain other layers.
type StatefulLayer interface {
	VisitExtraState(v StateVisitor, name string)
}

// VisitLayerState visits a layer's parameters and any other state it or
// the layers inside it hold.
func VisitLayerState(v StateVisitor, name string, l Layer) {
	VisitParams(v, name, l.Params())
	VisitExtraState(v, name, l)
}

// VisitExtraState visits the state of l (a layer or a composite such as
// Concat2) besides its parameters; nothing for one that holds none.
func VisitExtraState(v StateVisitor, name string, l any) {
	if s, ok := l.(StatefulLayer); ok {
		s.VisitExtraState(v, name)
	}
}

// VisitExtraState visits the layers' extra state in order.
func (s *Sequential) VisitExtraState(v StateVisitor, name string) {
	for i, l := range s.Layers {
		VisitExtraState(v, fmt.Sprintf("%s/%d", name, i), l)
	}
}

// VisitExtraState visits both branches' extra state.
func (c *Concat2) VisitExtraState(v StateVisitor, name string) {
	VisitExtraState(v, name+"/a", c.A)
	VisitExtraState(v, name+"/b", c.B)
}

// VisitExtraState visits the inner layer's extra state.
func (r *Residual) VisitExtraState(v StateVisitor, name string) {
	VisitExtraState(v, name+"/inner", r.Inner)
}

// VisitExtraState visits the running statistics.
func (bn *BatchNorm1D) VisitExtraState(v StateVisitor, name string) {
	v.Floats(name+"/running_mean", bn.RunningMean)
	v.Floats(name+"/running_var", bn.RunningVar)
}

// VisitExtraState visits the random stream of the masks.
func (d *Dropout) VisitExtraState(v StateVisitor, name string) {
	d.rng.VisitState(v, name+"/rng")
}

// StatefulOptimizer is an optimizer whose per-parameter state can be
// visited; every optimizer of this package is one.
type StatefulOptimizer interface {
	Optimizer
	// VisitState visits the state of params, in order: the optimizer
	// creates the state of a parameter it has not stepped yet, so a
	// restore into a fresh optimizer works.
	VisitState(v StateVisitor, name string, params []*Param)
}

// VisitOptimizer visits an optimizer's state for params; it panics for an
// optimizer that cannot be visited (all of this package's can).
func VisitOptimizer(v StateVisitor, name string, o Optimizer, params []*Param) {
	o.(StatefulOptimizer).VisitState(v, name, params)
}

// VisitState visits every parameter's step count and, with momentum, its
// velocity.
func (o *SGD) VisitState(v StateVisitor, name string, params []*Param) {
	if o.steps == nil {
		o.steps = make(map[*Param]int)
	}
	for i, p := range params {
		t := o.steps[p]
		v.Int(fmt.Sprintf("%s/%d/t", name, i), &t)
		o.steps[p] = t
		if o.Momentum != 0 {
			v.Floats(fmt.Sprintf("%s/%d/buf", name, i), o.velocity(p))
		}
	}
}

// VisitState visits every parameter's moments and step count.
func (o *Adam) VisitState(v StateVisitor, name string, params []*Param) {
	if o.state == nil {
		o.state = make(map[*Param]*adamState)
	}
	for i, p := range params {
		st, ok := o.state[p]
		if !ok {
			st = &adamState{m: make([]float32, len(p.Value)), v: make([]float32, len(p.Value))}
			o.state[p] = st
		}
		v.Floats(fmt.Sprintf("%s/%d/m", name, i), st.m)
		v.Floats(fmt.Sprintf("%s/%d/v", name, i), st.v)
		v.Int(fmt.Sprintf("%s/%d/t", name, i), &st.t)
	}
}
