package nn

import (
	"fmt"
	"math"
	"sync"
)

// SoftmaxCrossEntropy is the mean cross-entropy of a softmax over an active
// subset of the outputs. Outputs outside the active set are treated as -∞
// logits: probability 0, no contribution to the normaliser, zero gradient.
// Class-incremental tasks use the mask to score only the classes seen so far
// (a single head grown over time) without slicing the network's output.
//
// A label outside the active set is a programming error: Forward panics with
// a message naming the row and the label.
//
// The zero value is ready to use; buffers are reused across calls.
type SoftmaxCrossEntropy struct {
	probs   Matrix    // softmax over the active outputs, 0 elsewhere
	grad    Matrix    // dL/dlogits for the mean loss
	labels  []int     // last Forward's labels (aliased)
	mask    []bool    // active outputs of the last Forward (see RowMask)
	weight  []float32 // the last Forward's row weights; nil: all 1
	own     []bool    // Forward's mask, built from its active list
	rowLoss []float64 // per-row loss, summed in row order
	pred    []int     // predicted class per row
	correct int

	rowTangent []float64 // ForwardTangent's per-row terms

	logits Matrix  // the parallel forward's input
	scale  float32 // the parallel backward's 1/rows
}

// Forward returns the mean over rows of -log softmax(logits)[label] with the
// softmax taken over the active outputs (nil active means all outputs). The
// row max is subtracted before exponentiating and the log-sum-exp is
// accumulated in float64. It also records each row's predicted class (the
// arg-max among active outputs; ties go to the lower index) for Correct and
// Predictions. An empty batch has loss 0.
//
// labels is kept by reference until the next Forward (Backward reads it).
func (l *SoftmaxCrossEntropy) Forward(logits Matrix, labels []int, active []int) float64 {
	c := logits.Cols
	if cap(l.own) < c {
		l.own = make([]bool, c)
	}
	l.own = l.own[:c]
	if active == nil {
		for j := range l.own {
			l.own[j] = true
		}
	} else {
		clear(l.own)
		for _, j := range active {
			if j < 0 || j >= c {
				panic(fmt.Sprintf("nn: SoftmaxCrossEntropy: active output %d out of range [0, %d)", j, c))
			}
			l.own[j] = true
		}
	}
	return l.ForwardMask(logits, labels, l.own, nil)
}

// ForwardMask is Forward with the active outputs given as a mask and a
// weight per row. The mask has Cols entries, shared by every row, or
// Rows·Cols, each row its own (see RowMask): a task-IL minibatch that
// mixes replayed examples of several tasks scores each under its own
// task's outputs. weight is nil (every row weighs 1) or one value per row;
// the loss is then (1/rows) Σ_i w_i·l_i and Backward's and ForwardTangent's
// derivatives are those of that sum. mask, weight and labels are kept by
// reference until the next Forward.
func (l *SoftmaxCrossEntropy) ForwardMask(logits Matrix, labels []int, mask []bool, weight []float32) float64 {
	n, c := logits.Rows, logits.Cols
	if len(labels) != n {
		panic(fmt.Sprintf("nn: SoftmaxCrossEntropy: %d labels for %d rows", len(labels), n))
	}
	checkRowMask("SoftmaxCrossEntropy", mask, n, c)
	if weight != nil && len(weight) != n {
		panic(fmt.Sprintf("nn: SoftmaxCrossEntropy: %d weights for %d rows", len(weight), n))
	}
	for i, y := range labels {
		if y < 0 || y >= c || !RowMask(mask, i, c)[y] {
			panic(fmt.Sprintf("nn: SoftmaxCrossEntropy: row %d has label %d, which is not an active output (%d outputs, active %v)",
				i, y, c, activeOf(RowMask(mask, i, c))))
		}
	}
	l.labels, l.mask, l.weight = labels, mask, weight
	l.probs = Resize(l.probs, n, c)
	if cap(l.rowLoss) < n {
		l.rowLoss = make([]float64, n)
		l.pred = make([]int, n)
	}
	l.rowLoss, l.pred = l.rowLoss[:n], l.pred[:n]

	// A row costs a few exps per output: split rows over the cores only
	// for large outputs.
	minRows := max(1, transcendentalMin/max(c, 1))
	if !splits(n, minRows) {
		l.forwardRows(logits, 0, n)
	} else {
		l.logits = logits
		ParallelRange(n, minRows, (*lossForward)(l))
		l.logits = Matrix{}
	}
	sum := 0.0
	l.correct = 0
	for i, v := range l.rowLoss {
		if weight != nil {
			v *= float64(weight[i])
		}
		sum += v
		if l.pred[i] == labels[i] {
			l.correct++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// RowMask is row i's part of a mask over cols outputs that has cols
// entries (every row's: returned as is, nil included) or rows·cols (each
// row its own).
func RowMask(mask []bool, i, cols int) []bool {
	if len(mask) <= cols {
		return mask
	}
	return mask[i*cols : (i+1)*cols]
}

// checkRowMask panics unless mask is nil or has cols or rows·cols entries.
func checkRowMask(what string, mask []bool, rows, cols int) {
	if mask != nil && len(mask) != cols && len(mask) != rows*cols {
		panic(fmt.Sprintf("nn: %s: mask of %d entries for %d rows of %d columns", what, len(mask), rows, cols))
	}
}

// activeOf lists the outputs a mask row marks (nil: "all"), for messages.
func activeOf(mask []bool) any {
	if mask == nil {
		return "all"
	}
	var out []int
	for j, on := range mask {
		if on {
			out = append(out, j)
		}
	}
	return out
}

// forwardRows fills probs, rowLoss and pred for rows [lo, hi).
func (l *SoftmaxCrossEntropy) forwardRows(logits Matrix, lo, hi int) {
	c := logits.Cols
	for i := lo; i < hi; i++ {
		z := logits.Row(i)
		p := l.probs.Row(i)
		arg, lse := maskedLogSumExp(p, z, RowMask(l.mask, i, c))
		l.pred[i] = arg
		l.rowLoss[i] = lse - float64(z[l.labels[i]])
	}
}

// maskedLogSumExp writes softmax(z) over the entries with mask set into p
// (0 elsewhere; p may alias z) and returns the arg-max among them (lowest
// index on ties, -1 if none is set) and log Σ exp(z). A nil mask means all
// entries.
func maskedLogSumExp(p, z []float32, mask []bool) (arg int, lse float64) {
	arg = -1
	m := float32(math.Inf(-1))
	for j, v := range z {
		if (mask == nil || mask[j]) && (arg < 0 || v > m) {
			m, arg = v, j
		}
	}
	if arg < 0 {
		clear(p[:len(z)])
		return -1, math.Inf(-1)
	}
	s := 0.0
	for j, v := range z {
		if mask == nil || mask[j] {
			e := math.Exp(float64(v - m))
			p[j] = float32(e)
			s += e
		} else {
			p[j] = 0
		}
	}
	inv := 1 / s
	p = p[:len(z)]
	for j := range p {
		p[j] = float32(float64(p[j]) * inv)
	}
	return arg, float64(m) + math.Log(s)
}

// Backward returns dL/dlogits of the mean loss of the last Forward:
// (softmax - onehot(label)) / rows on active outputs, 0 on the others. The
// matrix is owned by the loss and valid until the next Backward.
func (l *SoftmaxCrossEntropy) Backward() Matrix {
	n, c := l.probs.Rows, l.probs.Cols
	l.grad = Resize(l.grad, n, c)
	if n == 0 {
		return l.grad
	}
	scale := float32(1 / float64(n))
	minRows := max(1, elementwiseMin/max(c, 1))
	if !splits(n, minRows) {
		l.backwardRows(scale, 0, n)
	} else {
		l.scale = scale
		ParallelRange(n, minRows, (*lossBackward)(l))
	}
	return l.grad
}

func (l *SoftmaxCrossEntropy) backwardRows(scale float32, lo, hi int) {
	for i := lo; i < hi; i++ {
		p, g := l.probs.Row(i), l.grad.Row(i)
		g = g[:len(p)]
		s := scale
		if l.weight != nil {
			s *= l.weight[i]
		}
		for j, v := range p {
			g[j] = v * s
		}
		g[l.labels[i]] -= s
	}
}

// ForwardTangent returns Forward(logits, labels, active) and the loss's
// directional derivative along the logits' tangent dlogits (empty: zero):
//
//	L̇ = (1/rows) Σ_i Σ_j (p_ij − [j = label_i])·l̇_ij
//
// ForwardTangentMask is the same after ForwardMask: each row's term then
// weighs w_i.
//
// over the active outputs (the others' tangents are ignored, as their
// logits are).
func (l *SoftmaxCrossEntropy) ForwardTangent(logits, dlogits Matrix, labels, active []int) (loss, dloss float64) {
	return l.tangent(l.Forward(logits, labels, active), logits, dlogits)
}

// ForwardTangentMask is ForwardTangent after ForwardMask.
func (l *SoftmaxCrossEntropy) ForwardTangentMask(logits, dlogits Matrix, labels []int, mask []bool, weight []float32) (loss, dloss float64) {
	return l.tangent(l.ForwardMask(logits, labels, mask, weight), logits, dlogits)
}

// tangent is ForwardTangent's derivative for the Forward just made.
func (l *SoftmaxCrossEntropy) tangent(loss float64, logits, dlogits Matrix) (float64, float64) {
	if !hasTangent("SoftmaxCrossEntropy", logits, dlogits) || logits.Rows == 0 {
		return loss, 0
	}
	l.rowTangent = l.RowTangents(dlogits, l.rowTangent)
	sum := 0.0
	for i, r := range l.rowTangent {
		if l.weight != nil {
			r *= float64(l.weight[i])
		}
		sum += r
	}
	return loss, sum / float64(logits.Rows)
}

// RowTangents returns, for the last Forward, every row's own loss's
// directional derivative along the logits' tangent dlogits,
//
//	L̇_i = Σ_j (p_ij − [j = label_i])·l̇_ij
//
// over the active outputs, unweighted: the terms whose (weighted) mean is
// ForwardTangent's L̇. A
// rule that perturbs every example on its own (activity-perturbed forward
// gradient) needs them one by one. It writes into dst (grown as needed)
// and returns it.
func (l *SoftmaxCrossEntropy) RowTangents(dlogits Matrix, dst []float64) []float64 {
	n := l.probs.Rows
	if dlogits.Rows != n || dlogits.Cols != l.probs.Cols {
		panic(fmt.Sprintf("nn: SoftmaxCrossEntropy: logits tangent is %d×%d after a Forward of %d×%d",
			dlogits.Rows, dlogits.Cols, n, l.probs.Cols))
	}
	if cap(dst) < n {
		dst = make([]float64, n)
	}
	dst = dst[:n]
	for i, y := range l.labels {
		p, v := l.probs.Row(i), dlogits.Row(i)
		v = v[:len(p)]
		mask := RowMask(l.mask, i, len(p))
		r := 0.0
		for j, pj := range p {
			if mask[j] {
				r += float64(pj) * float64(v[j])
			}
		}
		dst[i] = r - float64(v[y])
	}
	return dst
}

// Correct is the number of rows of the last Forward whose predicted class
// (arg-max among the active outputs) equals the label.
func (l *SoftmaxCrossEntropy) Correct() int { return l.correct }

// Predictions returns the predicted class per row of the last Forward. The
// slice is owned by the loss and overwritten by the next Forward.
func (l *SoftmaxCrossEntropy) Predictions() []int { return l.pred }

// Probs returns the softmax over the active outputs of the last Forward (0 on
// inactive outputs). The matrix is owned by the loss.
func (l *SoftmaxCrossEntropy) Probs() Matrix { return l.probs }

// SoftmaxRows writes the softmax of each row of src into dst (same shape;
// dst may be src). The row max is subtracted first and the normaliser is
// accumulated in float64, so large logits neither overflow nor lose the
// small terms. Large matrices are split by rows over the cores.
func SoftmaxRows(dst, src Matrix) { rowsKernel(dst, src, nil, false, "SoftmaxRows") }

// LogSoftmaxRows writes the log-softmax of each row of src into dst (same
// shape; dst may be src): src − log Σ exp(src), with the row max and the
// normaliser in float64. Large matrices are split by rows over the cores.
func LogSoftmaxRows(dst, src Matrix) { rowsKernel(dst, src, nil, true, "LogSoftmaxRows") }

// rowsKernel runs softmaxKernel over the rows of src into dst: the softmax
// over the entries with mask set (nil: all; src.Cols entries or a row's
// own, see RowMask), or the
// log-softmax of whole rows.
func rowsKernel(dst, src Matrix, mask []bool, log bool, what string) {
	if dst.Rows != src.Rows || dst.Cols != src.Cols {
		panic(fmt.Sprintf("nn: %s: dst %d×%d, src %d×%d", what, dst.Rows, dst.Cols, src.Rows, src.Cols))
	}
	checkRowMask(what, mask, src.Rows, src.Cols)
	k := softmaxKernel{dst: dst, src: src, mask: mask, log: log}
	minRows := max(1, transcendentalMin/max(src.Cols, 1))
	if !splits(src.Rows, minRows) {
		k.Range(0, src.Rows)
		return
	}
	pk := softmaxKernels.Get().(*softmaxKernel)
	*pk = k
	ParallelRange(src.Rows, minRows, pk)
	*pk = softmaxKernel{}
	softmaxKernels.Put(pk)
}

// softmaxKernel is the row pass of rowsKernel; kernels are pooled so that a
// split allocates nothing.
type softmaxKernel struct {
	dst, src Matrix
	mask     []bool
	log      bool
}

var softmaxKernels = sync.Pool{New: func() any { return new(softmaxKernel) }}

func (k *softmaxKernel) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		if k.log {
			logSoftmaxRow(k.dst.Row(i), k.src.Row(i))
		} else {
			maskedLogSumExp(k.dst.Row(i), k.src.Row(i), RowMask(k.mask, i, k.src.Cols))
		}
	}
}

// logSoftmaxRow writes z − log Σ exp(z) into d (d may alias z). Unlike
// maskedLogSumExp it subtracts the max in float64 before exponentiating:
// the scores of NoProp's models are pinned to this rounding.
func logSoftmaxRow(d, z []float32) {
	d = d[:len(z)]
	mx := math.Inf(-1)
	for _, v := range z {
		mx = max(mx, float64(v))
	}
	s := 0.0
	for _, v := range z {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	for j, v := range z {
		d[j] = float32(float64(v) - lse)
	}
}

// lossForward and lossBackward are the loss's parallel passes (the loss
// itself, viewed as a Ranger).
type (
	lossForward  SoftmaxCrossEntropy
	lossBackward SoftmaxCrossEntropy
)

func (k *lossForward) Range(lo, hi int) {
	l := (*SoftmaxCrossEntropy)(k)
	l.forwardRows(l.logits, lo, hi)
}

func (k *lossBackward) Range(lo, hi int) {
	l := (*SoftmaxCrossEntropy)(k)
	l.backwardRows(l.scale, lo, hi)
}

// MSE is the squared error summed over the features and averaged over the
// rows,
//
//	L = (1/rows) Σ_i ‖pred_i − target_i‖²,
//
// the ‖·‖² convention of NoProp's block loss and of target propagation's
// layer losses. (PyTorch's MSELoss, the mean over all elements, is L divided
// by the number of columns.) The sums are accumulated in float64, row by
// row. The zero value is ready to use; buffers are
// reused across calls.
type MSE struct {
	diff, grad Matrix // pred − target; dL/dpred
}

// Forward returns the loss of pred against target (same shape); an empty
// batch has loss 0.
func (l *MSE) Forward(pred, target Matrix) float64 {
	if pred.Rows != target.Rows || pred.Cols != target.Cols {
		panic(fmt.Sprintf("nn: MSE: prediction %d×%d, target %d×%d", pred.Rows, pred.Cols, target.Rows, target.Cols))
	}
	n := pred.Rows
	l.diff = Resize(l.diff, n, pred.Cols)
	sum := 0.0
	for i := range n {
		p, t, d := pred.Row(i), target.Row(i), l.diff.Row(i)
		t, d = t[:len(p)], d[:len(p)]
		r := 0.0
		for j, v := range p {
			e := v - t[j]
			d[j] = e
			r += float64(e) * float64(e)
		}
		sum += r
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Backward returns dL/dpred = 2·(pred − target)/rows for the last Forward.
// The matrix is owned by the loss and valid until the next Backward.
func (l *MSE) Backward() Matrix {
	l.grad = Resize(l.grad, l.diff.Rows, l.diff.Cols)
	if l.diff.Rows == 0 {
		return l.grad
	}
	scale := float32(2 / float64(l.diff.Rows))
	for k, e := range l.diff.Data {
		l.grad.Data[k] = scale * e
	}
	return l.grad
}

// ForwardTangent returns Forward(pred, target) and the loss's directional
// derivative along the prediction's tangent dpred (empty: zero), with the
// target held fixed:
//
//	L̇ = (2/rows) Σ_i ⟨pred_i − target_i, ṗred_i⟩.
func (l *MSE) ForwardTangent(pred, dpred, target Matrix) (loss, dloss float64) {
	loss = l.Forward(pred, target)
	if !hasTangent("MSE", pred, dpred) || pred.Rows == 0 {
		return loss, 0
	}
	sum := 0.0
	for i := range pred.Rows {
		d, v := l.diff.Row(i), dpred.Row(i)
		v = v[:len(d)]
		r := 0.0
		for j, e := range d {
			r += float64(e) * float64(v[j])
		}
		sum += r
	}
	return loss, 2 * sum / float64(pred.Rows)
}
