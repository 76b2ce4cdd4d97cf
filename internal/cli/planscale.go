package cli

import (
	"encoding/json"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/results"
)

// stepSample is a done run that scaled can scale: the examples a task
// trains on (steps times batch size), and the seconds its rows record.
type stepSample struct {
	examples float64
	recorded results.Recorded
}

// stepKey is budgetKey without the number of steps and the batch size, for
// a spec trained a fixed number of steps a task (iterations > 0), with the
// examples a task trains on (iterations times batch size). A strategy other
// than the joint bound is left out with its memory's settings: it trains
// the same steps a task, and replay's batch size already counts the
// examples its memory adds. Runs of one key differ in training time by
// their examples and score the same test sets.
func stepKey(specJSON string) (key string, examples float64, ok bool) {
	base, ok := budgetKey(specJSON)
	if !ok {
		return "", 0, false
	}
	var m map[string]any
	if json.Unmarshal([]byte(base), &m) != nil {
		return "", 0, false
	}
	set, _ := m["settings"].(map[string]any)
	iters, _ := set["iterations"].(float64)
	batch, _ := set["batch_size"].(float64)
	if iters <= 0 || batch <= 0 {
		return "", 0, false
	}
	for _, k := range []string{"iterations", "batch_size", "epochs"} {
		delete(set, k)
	}
	if m["strategy"] != "joint" {
		delete(m, "strategy")
		delete(m, "replay")
	}
	b, err := json.Marshal(m)
	return string(b), iters * batch, err == nil
}

// scaled estimates a configuration that neither it nor its budget has run
// from the runs of its stepKey: each one's training seconds times the
// ratio of examples a task, plus its scoring seconds, averaged.
func (e *estimator) scaled(s harness.Spec) (estimate, error) {
	if e.steps == nil {
		done, err := e.doneRuns()
		if err != nil {
			return estimate{}, err
		}
		e.steps = map[string][]stepSample{}
		for _, r := range done {
			if k, ex, ok := stepKey(r.SpecJSON); ok && r.recorded.Training > 0 {
				e.steps[k] = append(e.steps[k], stepSample{examples: ex, recorded: r.recorded})
			}
		}
	}
	k, ex, ok := stepKey(s.JSON())
	samples := e.steps[k]
	if !ok || len(samples) == 0 {
		return estimate{}, nil
	}
	var sum float64
	for _, smp := range samples {
		sum += smp.recorded.Training*ex/smp.examples + smp.recorded.Scoring
	}
	return estimate{seconds: sum / float64(len(samples)), ok: true, scaled: true}, nil
}
