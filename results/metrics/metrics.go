// Package metrics holds the continual-learning metrics: their names, the
// Metric value, and the formulas over an accuracy matrix (docs/metrics.md).
// The harness computes them, the results store keeps them, tables and
// figures title them; a metric never knows which rule produced the numbers.
//
// Accuracy matrices here are (T+1)×T, in percent: row 0 holds the accuracy
// of the untrained model on each task (b_j), row i (1..T) the accuracy on
// each task after learning task i.
//
// Package metrics imports nothing of the project.
package metrics

import "math"

// Metric is one named number derived from a run's accuracy matrix, in
// percent. When the metric is undefined for the matrix (too few tasks),
// Value is NaN and Note says why.
type Metric struct {
	Name  string
	Value float64
	Note  string
}

// Metric names, in percent units.
const (
	ACC            = "acc"                   // average accuracy after the last task
	Forgetting     = "forgetting"            // Chaudhry's average forgetting (max previous minus last)
	BWT            = "bwt"                   // backward transfer (GEM)
	FWT            = "fwt"                   // forward transfer (GEM), against the untrained model
	FirstLast      = "forgetting_first_last" // Avalanche's forgetting (just trained minus last)
	IncrementalACC = "incremental_acc"       // average of A_k over k (iCaRL)
	// ValACC is ACC on the held-out validation sets (a study's
	// validation fraction): what a grid's configurations are chosen by,
	// so that the test sets are not.
	ValACC = "val_acc"
)

// Order is the order in which tables show the metrics, before any other.
var Order = []string{ACC, Forgetting, BWT, FWT, FirstLast, IncrementalACC}

// titles are the column titles of the metrics.
var titles = map[string]string{
	ACC:            "ACC",
	Forgetting:     "forgetting",
	BWT:            "BWT",
	FWT:            "FWT",
	FirstLast:      "forgetting (first-last)",
	IncrementalACC: "incremental ACC",
	ValACC:         "val ACC",
}

// Title returns the column title of a metric: "ACC", "BWT", ... for the
// metrics of this package, the name itself for others.
func Title(name string) string {
	if t, ok := titles[name]; ok {
		return t
	}
	return name
}

// All computes every metric for r, in Order.
func All(r [][]float64) []Metric {
	return []Metric{AverageAccuracy(r), AverageForgetting(r), BackwardTransfer(r), ForwardTransfer(r), FirstLastForgetting(r), IncrementalAccuracy(r)}
}

func numTasks(r [][]float64) int { return len(r) - 1 }

// AverageAccuracy (ACC) is the mean accuracy over all tasks after the last task:
// (1/T) Σ_j R[T][j].
func AverageAccuracy(r [][]float64) Metric {
	T := numTasks(r)
	if T < 1 {
		return undefined(ACC, "needs at least 1 task")
	}
	return Metric{Name: ACC, Value: LearnedAccuracy(r, T)}
}

// LearnedAccuracy is A_k, the mean accuracy over the tasks learned so far
// after task k (1..T): (1/k) Σ_{j≤k} R[k][j]. ACC is A_T, the incremental
// accuracy the mean of A_k over k, and figures plot A_k against k.
func LearnedAccuracy(r [][]float64, k int) float64 {
	s := 0.0
	for j := range k {
		s += r[k][j]
	}
	return s / float64(k)
}

// AverageForgetting is Chaudhry et al.'s average forgetting after the last task:
// for each earlier task j, the best accuracy it had after any earlier task
// (l = 1..T-1) minus its final accuracy, averaged over j = 1..T-1.
func AverageForgetting(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(Forgetting, "needs at least 2 tasks")
	}
	s := 0.0
	for j := range T - 1 {
		best := math.Inf(-1)
		for l := 1; l <= T-1; l++ {
			best = math.Max(best, r[l][j])
		}
		s += best - r[T][j]
	}
	return Metric{Name: Forgetting, Value: s / float64(T-1)}
}

// FirstLastForgetting is Avalanche's forgetting: accuracy right after
// learning a task minus its final accuracy, averaged over j = 1..T-1.
func FirstLastForgetting(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(FirstLast, "needs at least 2 tasks")
	}
	s := 0.0
	for j := range T - 1 {
		s += r[j+1][j] - r[T][j]
	}
	return Metric{Name: FirstLast, Value: s / float64(T-1)}
}

// BackwardTransfer (BWT) is: (1/(T-1)) Σ_{j<T} (R[T][j] - R[j][j]).
// Negative values mean forgetting.
func BackwardTransfer(r [][]float64) Metric {
	m := FirstLastForgetting(r)
	if m.Note != "" {
		return undefined(BWT, m.Note)
	}
	return Metric{Name: BWT, Value: -m.Value}
}

// ForwardTransfer (FWT) is: (1/(T-1)) Σ_{j≥2} (R[j-1][j] - b_j), with b_j the
// untrained model's accuracy on task j (row 0).
func ForwardTransfer(r [][]float64) Metric {
	T := numTasks(r)
	if T < 2 {
		return undefined(FWT, "needs at least 2 tasks")
	}
	s := 0.0
	for j := 1; j < T; j++ {
		s += r[j][j] - r[0][j]
	}
	return Metric{Name: FWT, Value: s / float64(T-1)}
}

// IncrementalAccuracy is the average incremental accuracy (1/T) Σ_k A_k, with
// A_k = (1/k) Σ_{j≤k} R[k][j].
func IncrementalAccuracy(r [][]float64) Metric {
	T := numTasks(r)
	if T < 1 {
		return undefined(IncrementalACC, "needs at least 1 task")
	}
	s := 0.0
	for k := 1; k <= T; k++ {
		s += LearnedAccuracy(r, k)
	}
	return Metric{Name: IncrementalACC, Value: s / float64(T)}
}

func undefined(name, why string) Metric { return Metric{Name: name, Value: math.NaN(), Note: why} }
