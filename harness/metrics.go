package harness

import (
	"math"

	"github.com/noprop/noprop/results"
)

// Metric is one summary number computed from an accuracy matrix. When the
// metric is undefined for the matrix (too few tasks), Value is NaN and Note
// says why.
type Metric = results.Metric

// Metric names, in percent units; the store names the common ones.
const (
	MetricACC            = results.MetricACC
	MetricForgetting     = results.MetricForgetting
	MetricBWT            = results.MetricBWT
	MetricFWT            = results.MetricFWT
	MetricFirstLast      = results.MetricForgettingFirstLast
	MetricIncrementalACC = "incremental_acc" // average of A_k over k (iCaRL)
)

// Accuracy matrices in this package are (T+1)×T: row 0 holds the accuracy of
// the untrained model on each task (b_j), row i (1..T) the accuracy on each
// task after learning task i. This is R[i][j] of continual.md with the
// reference accuracies folded in as row 0.

// Metrics computes every metric for r.
func Metrics(r [][]float64) []Metric {
	return []Metric{ACC(r), Forgetting(r), BWT(r), FWT(r), IncrementalACC(r), FirstLastForgetting(r)}
}

func numTasks(r [][]float64) int { return len(r) - 1 }

// ACC is the mean accuracy over all tasks after the last task:
// (1/T) Σ_j R[T][j].
func ACC(r [][]float64) Metric {
	T := numTasks(r)
	if T < 1 {
		return undefined(MetricACC, "needs at least 1 task")
	}
	s := 0.0
	for j := range T {
		s += r[T][j]
	}
	return Metric{Name: MetricACC, Value: s / float64(T)}
}

// Forgetting is Chaudhry et al.'s average forgetting after the last task:
// for each earlier task j, the best accuracy it had after any earlier task
// (l = 1..T-1) minus its final accuracy, averaged over j = 1..T-1.
func Forgetting(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(MetricForgetting, "needs at least 2 tasks")
	}
	s := 0.0
	for j := range T - 1 {
		best := math.Inf(-1)
		for l := 1; l <= T-1; l++ {
			best = math.Max(best, r[l][j])
		}
		s += best - r[T][j]
	}
	return Metric{Name: MetricForgetting, Value: s / float64(T-1)}
}

// FirstLastForgetting is Avalanche's forgetting: accuracy right after
// learning a task minus its final accuracy, averaged over j = 1..T-1.
func FirstLastForgetting(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(MetricFirstLast, "needs at least 2 tasks")
	}
	s := 0.0
	for j := range T - 1 {
		s += r[j+1][j] - r[T][j]
	}
	return Metric{Name: MetricFirstLast, Value: s / float64(T-1)}
}

// BWT is backward transfer: (1/(T-1)) Σ_{j<T} (R[T][j] - R[j][j]).
// Negative values mean forgetting.
func BWT(r [][]float64) Metric {
	m := FirstLastForgetting(r)
	if m.Note != "" {
		return undefined(MetricBWT, m.Note)
	}
	return Metric{Name: MetricBWT, Value: -m.Value}
}

// FWT is forward transfer: (1/(T-1)) Σ_{j≥2} (R[j-1][j] - b_j), with b_j the
// untrained model's accuracy on task j (row 0).
func FWT(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(MetricFWT, "needs at least 2 tasks")
	}
	s := 0.0
	for j := 1; j < T; j++ {
		s += r[j][j] - r[0][j]
	}
	return Metric{Name: MetricFWT, Value: s / float64(T-1)}
}

// IncrementalACC is the average incremental accuracy (1/T) Σ_k A_k, with
// A_k = (1/k) Σ_{j≤k} R[k][j].
func IncrementalACC(r [][]float64) Metric {
	T := numTasks(r)
	if T < 1 {
		return undefined(MetricIncrementalACC, "needs at least 1 task")
	}
	s := 0.0
	for k := 1; k <= T; k++ {
		a := 0.0
		for j := range k {
			a += r[k][j]
		}
		s += a / float64(k)
	}
	return Metric{Name: MetricIncrementalACC, Value: s / float64(T)}
}

func undefined(name, why string) Metric { return Metric{Name: name, Value: math.NaN(), Note: why} }
