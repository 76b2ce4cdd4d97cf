package tasks

import (
	"fmt"
	"slices"
)

// Scenario is one of the three continual-learning scenarios of van de Ven &
// Tolias (2019). It decides which outputs a learner uses while it learns a
// task and which outputs compete when a task is evaluated; learners see only
// those output lists, never the scenario's name.
type Scenario string

// The scenarios.
const (
	// TaskIL: the task identity is given. A multi-headed network: a task's
	// loss and its scores cover only that task's classes.
	TaskIL Scenario = "task"
	// DomainIL: one shared head with as many outputs as a task has classes;
	// labels are the position of the class within its task.
	DomainIL Scenario = "domain"
	// ClassIL: one expanding head; every class seen so far competes.
	ClassIL Scenario = "class"
)

// Scenarios lists the scenarios in their usual order.
func Scenarios() []Scenario { return []Scenario{TaskIL, DomainIL, ClassIL} }

// ParseScenario accepts "task", "domain" or "class" (also with an "-il"
// suffix).
func ParseScenario(s string) (Scenario, error) {
	switch s {
	case "task", "task-il":
		return TaskIL, nil
	case "domain", "domain-il":
		return DomainIL, nil
	case "class", "class-il":
		return ClassIL, nil
	}
	return "", fmt.Errorf("scenario %q: want task, domain or class", s)
}

// Outputs is the number of outputs a learner needs for this stream.
func (sc Scenario) Outputs(s Stream) int {
	if sc == DomainIL {
		n := 0
		for _, t := range s.Tasks {
			n = max(n, len(t.Classes))
		}
		return n
	}
	return s.NumClasses
}

// TrainActive lists the outputs that take part in the loss while task k
// (0-based) is learned.
func (sc Scenario) TrainActive(s Stream, k int) []int {
	switch sc {
	case DomainIL:
		return seq(0, sc.Outputs(s))
	case ClassIL:
		return seenClasses(s, k)
	default:
		return slices.Clone(s.Tasks[k].Classes)
	}
}

// EvalActive lists the outputs that compete when task j (0-based) is
// evaluated after tasks 0..i have been learned (i = -1: before any training).
//
// Class-IL uses the classes of every task up to max(i, j): for j <= i that is
// "all classes seen so far"; for a future task (j > i, needed only for
// forward transfer) it also admits the classes up to task j, so that the
// task's own classes can be chosen at all. Forward transfer in class-IL stays
// near-degenerate, as the literature notes.
func (sc Scenario) EvalActive(s Stream, i, j int) []int {
	switch sc {
	case DomainIL:
		return seq(0, sc.Outputs(s))
	case ClassIL:
		return seenClasses(s, max(i, j))
	default:
		return slices.Clone(s.Tasks[j].Classes)
	}
}

// Relabel returns the set with labels mapped to the scenario's outputs: the
// position within the task's classes for domain-IL, unchanged otherwise.
func (sc Scenario) Relabel(t Task, set Set) Set {
	if sc != DomainIL {
		return set
	}
	out := set
	out.Y = make([]int, len(set.Y))
	for i, y := range set.Y {
		out.Y[i] = slices.Index(t.Classes, y)
	}
	return out
}

func seenClasses(s Stream, k int) []int {
	var out []int
	for _, t := range s.Tasks[:k+1] {
		out = append(out, t.Classes...)
	}
	slices.Sort(out)
	return out
}
