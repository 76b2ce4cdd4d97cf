package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/table"
)

func planCmd() *cobra.Command {
	var db, format string
	var from []string
	cmd := &cobra.Command{
		Use:   "plan SWEEP.yaml",
		Short: "List every run a sweep file describes, which are done, and how long the rest should take",
		Long: `Plan reads a sweep file, checks all of it (every method, preset, setting,
dataset, stream, scenario and the seed range) and lists every run it would
make: method, configuration hash, scenario, seed, and whether the results
database already holds it. The time left is estimated from the stored runs
of the same configuration (other seeds) or, for a configuration not run
yet, from those of the same budget (the same method, stream, scenario,
strategy and settings but for learning rates, weight decay, momentum, η
and the validation fraction), marked ≈. --estimate-from adds other
databases' runs to those estimates (a new study's file planned against
the database of an earlier one). It never writes a database.

A sweep file (YAML):

` + harness.SweepFormat + `

Run it with ` + "`noprop run --sweep FILE`" + `.`,
		Args: args(1, false, "name one sweep file (YAML)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := harness.ReadSweepFile(cmd.Context(), args[0], catalog.All, nil)
			if err != nil {
				return err
			}
			f, err := table.ParseFormat(format)
			if err != nil {
				return err
			}
			return printPlan(cmd.Context(), db, from, specs, f)
		},
	}
	cmd.Flags().StringVar(&db, "db", "results.db", "results database (SQLite); read only")
	cmd.Flags().StringSliceVar(&from, "estimate-from", nil, "more results databases whose done runs the estimates use, read only (comma-separated or repeated)")
	cmd.Flags().StringVar(&format, "format", string(table.Text), table.FormatUsage)
	return cmd
}

func printPlan(ctx context.Context, db string, from []string, specs []harness.Spec, format table.Format) error {
	var store *results.Store
	if _, err := os.Stat(db); err == nil {
		if store, err = readResults(db); err != nil {
			return err
		}
		defer store.Close()
	}
	est := estimator{ctx: ctx, seen: map[string]estimate{}}
	if store != nil {
		est.stores = append(est.stores, store)
	}
	for _, f := range from {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("--estimate-from %s: %w", f, err)
		}
		other, err := readResults(f)
		if err != nil {
			return err
		}
		defer other.Close()
		est.stores = append(est.stores, other)
	}
	units := make([]results.Unit, len(specs))
	for i, s := range specs {
		units[i] = results.Unit{ConfigHash: s.ConfigHash(), Seed: s.Seed}
	}
	var states []results.UnitState
	if store != nil {
		var err error
		if states, err = results.UnitStates(ctx, store, nil, units, 0); err != nil {
			return err
		}
	} else {
		states = make([]results.UnitState, len(units))
	}
	differs := specsDiffer(specs)
	var rows [][]string
	var tot planTotals
	for i, s := range specs {
		st := states[i]
		tot.count[st.Status]++
		state, estText := st.Status.String(), ""
		switch st.Status {
		case results.Done:
			state = "done (run " + st.RunID[:8] + ")"
		case results.Running:
			state = fmt.Sprintf("running (run %s on %s: %s)", st.RunID[:8], st.Holder.Host, st.Reason)
		case results.Pending:
			state = "to run"
			e, err := est.forSpec(s, units[i].ConfigHash)
			if err != nil {
				return err
			}
			estText = tot.add(e)
		}
		rows = append(rows, []string{strconv.Itoa(i + 1), s.MethodName(), units[i].ConfigHash, differs[units[i].ConfigHash],
			s.Stream + "-" + s.Dataset, s.Scenario, strconv.FormatUint(s.Seed, 10), state, estText})
	}
	header := []string{"#", "method", "config", "settings", "stream", "scenario", "seed", "state", "estimate"}
	if err := table.WriteRows(os.Stdout, format, len(header), header, rows); err != nil {
		return err
	}
	printPlanSummary(format, len(specs), tot)
	return nil
}

// planTotals counts a plan's runs by status and adds up the estimates of
// those to run, by how they were estimated.
type planTotals struct {
	count                    [4]int // by status
	left                     float64
	unknown, similar, scaled int
}

// add counts the estimate of a run to run and returns its text.
func (t *planTotals) add(e estimate) string {
	if !e.ok {
		t.unknown++
		return "no run of this configuration yet"
	}
	t.left += e.seconds
	text := (time.Duration(e.seconds) * time.Second).Round(time.Second).String()
	switch {
	case e.scaled:
		t.scaled++
		return "~ " + text
	case e.alike:
		t.similar++
		return "≈ " + text
	}
	return text
}

// printPlanSummary prints the plan's totals: the runs by status and the
// estimated time left.
func printPlanSummary(format table.Format, n int, t planTotals) {
	todo := t.count[results.Pending]
	// The summary follows a table for people; a table for a program
	// (CSV, LaTeX) stays alone on standard output.
	w := io.Writer(os.Stdout)
	if format == table.CSV || format == table.LaTeX {
		w = os.Stderr
	}
	fmt.Fprintf(w, "\n%d run(s): %d done, %d running, %d to run", n, t.count[results.Done], t.count[results.Running], todo)
	if todo > 0 {
		fmt.Fprintf(w, "; estimated %s for the %d with a stored run of the same configuration",
			(time.Duration(t.left) * time.Second).Round(time.Second), todo-t.unknown-t.similar-t.scaled)
		if t.similar > 0 {
			fmt.Fprintf(w, " and the %d (≈) with one of the same budget", t.similar)
		}
		if t.scaled > 0 {
			fmt.Fprintf(w, " and the %d (~) scaled from runs of another number of steps or batch size", t.scaled)
		}
		if t.unknown > 0 {
			fmt.Fprintf(w, ", %d without an estimate", t.unknown)
		}
	}
	fmt.Fprintln(w)
}

// estimate is the mean duration of a configuration's done runs, or of
// runs of the same budget (alike), or scaled from runs of another number
// of steps or batch size (scaled).
type estimate struct {
	seconds           float64
	ok, alike, scaled bool
}

// estimator estimates a configuration's run time from its stored runs, in
// the plan's database and the --estimate-from ones.
type estimator struct {
	ctx    context.Context
	stores []*results.Store
	seen   map[string]estimate
	// budgets is the mean duration of the done runs of each budget key
	// (budgetKey), read once when first needed.
	budgets map[string]estimate
	// done holds the done runs of every store, read once when first
	// needed.
	done []doneRun
	// steps holds the samples of scaled, read once when first needed.
	steps map[string][]stepSample
}

// doneRun is a done run with the seconds its rows record, and how long it
// took: its wall time, or the recorded seconds when more (a run resumed
// from a checkpoint started_at its last sitting; its rows count the
// earlier ones too).
type doneRun struct {
	results.Run
	recorded results.Recorded
	seconds  float64
}

// doneRuns returns the done runs of every store, reading them once.
func (e *estimator) doneRuns() ([]doneRun, error) {
	if e.done != nil {
		return e.done, nil
	}
	done := []doneRun{}
	for _, store := range e.stores {
		runs, err := store.Runs(e.ctx, results.Filter{Status: results.StatusDone})
		if err != nil {
			return nil, err
		}
		rec, err := store.RecordedSeconds(e.ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			done = append(done, doneRun{Run: r, recorded: rec[r.ID],
				seconds: max(r.Ended.Sub(r.Started).Seconds(), rec[r.ID].Total())})
		}
	}
	e.done = done
	return done, nil
}

// alike estimates a configuration never run from the done runs of the
// same budget.
func (e *estimator) alike(s harness.Spec) (estimate, error) {
	if e.budgets == nil {
		done, err := e.doneRuns()
		if err != nil {
			return estimate{}, err
		}
		sum, n := map[string]float64{}, map[string]int{}
		for _, r := range done {
			if k, ok := budgetKey(r.SpecJSON); ok {
				sum[k] += r.seconds
				n[k]++
			}
		}
		e.budgets = map[string]estimate{}
		for k, t := range sum {
			e.budgets[k] = estimate{seconds: t / float64(n[k]), ok: true, alike: true}
		}
	}
	k, ok := budgetKey(s.JSON())
	if !ok {
		return estimate{}, nil
	}
	return e.budgets[k], nil
}

// costNeutral are the spec's settings that change a run's results but
// hardly its time, left out of budgetKey.
var costNeutral = []string{"lr", "readout_lr", "weight_decay", "readout_weight_decay", "momentum", "eta"}

// costTwins name, for a dataset, the one of the same image shape, classes
// and numbers of examples, whose runs cost the same at the same budget.
var costTwins = map[string]string{"fashion-mnist": "mnist", "cifar10-jpeg": "cifar10"}

// budgetKey is what sets a run's cost in a stored spec (JSON): the spec
// without its seed, inference runs, preset name, validation fraction and
// the cost-neutral settings, its settings in their identity form (so that
// a setting added later, stored by new runs at its default and absent from
// old ones, does not part them), and its dataset named by its cost twin.
func budgetKey(specJSON string) (string, bool) {
	var m map[string]any
	if err := json.Unmarshal([]byte(specJSON), &m); err != nil {
		return "", false
	}
	for _, k := range []string{"seed", "preset", "validation", "test_every", "curve_on", "probe"} {
		delete(m, k)
	}
	if twin, ok := costTwins[fmt.Sprint(m["dataset"])]; ok {
		m["dataset"] = twin
	}
	if name, ok := m["method"].(string); ok {
		if meth, err := catalog.All.Lookup(name); err == nil {
			raw, _ := json.Marshal(m["settings"])
			if id, err := meth.Identity(raw); err == nil {
				var set map[string]any
				if json.Unmarshal(id, &set) == nil {
					m["settings"] = set
				}
			}
		}
	}
	if set, ok := m["settings"].(map[string]any); ok {
		for _, k := range costNeutral {
			delete(set, k)
		}
	}
	b, err := json.Marshal(m)
	return string(b), err == nil
}

func (e *estimator) of(hash string) (estimate, error) {
	if est, ok := e.seen[hash]; ok {
		return est, nil
	}
	done, err := e.doneRuns()
	if err != nil {
		return estimate{}, err
	}
	var est estimate
	n := 0
	for _, r := range done {
		if r.ConfigHash == hash {
			est.seconds += r.seconds
			n++
		}
	}
	if n > 0 {
		est.seconds /= float64(n)
		est.ok = true
	}
	e.seen[hash] = est
	return est, nil
}

// specsDiffer names each configuration of specs by the settings in which
// it differs from its method's other configurations (config hash ->
// "lr=0.001").
func specsDiffer(specs []harness.Spec) map[string]string {
	var sums []results.Summary
	seen := map[string]bool{}
	for _, s := range specs {
		if h := s.ConfigHash(); !seen[h] {
			seen[h] = true
			sums = append(sums, results.Summary{Method: s.Method, ConfigHash: h, SpecJSON: s.JSON()})
		}
	}
	return results.SettingsThatDiffer(sums)
}

// forSpec estimates a pending spec: from the stored runs of its own
// configuration, else from runs of the same budget (marked alike).
func (e *estimator) forSpec(s harness.Spec, hash string) (estimate, error) {
	est, err := e.of(hash)
	if err != nil || est.ok {
		return est, err
	}
	if est, err = e.alike(s); err != nil || est.ok {
		return est, err
	}
	return e.scaled(s)
}
