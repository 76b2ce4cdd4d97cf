package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/tasks"
)

type runFlags struct {
	methods    []string
	preset     string
	sets       []string
	dataset    string
	stream     string
	tasks      int
	classOrder string
	scenarios  []string
	seeds      int
	firstSeed  uint64
	db         string
	data       string
	verbose    bool
	rerun      bool
}

func runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Train methods on a task stream and store the results",
		Long: `Run trains every chosen method on the stream once per scenario and seed,
evaluating every task after every task, and stores each run in the results
database. Runs already finished with the same configuration and seed are
skipped, so an interrupted batch resumes when started again (--rerun forces
them). At the end it prints the mean accuracy matrices and the summary table
of the configurations it ran.`,
		Example: `  noprop run                                   # backprop on split MNIST, class- and task-IL
  noprop run --method noprop-dt --preset quick --seeds 3
  noprop run --method backprop,noprop-dt:quick --set noprop-dt.epochs=2
  noprop run --method backprop --set iterations=500 --set hidden=[256,256]
  noprop run --method noprop-dt --stream joint --set epochs=10 --scenario class`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRun(cmd.Context(), f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVarP(&f.methods, "method", "m", []string{"backprop"}, "methods to run, comma-separated, each as name or name:preset (see `noprop methods`)")
	fl.StringVar(&f.preset, "preset", "", "settings preset for methods named without one (e.g. quick, paper)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a setting: key=value for every method, method.key=value for one (value as JSON, else a string); repeatable")
	fl.StringVarP(&f.dataset, "dataset", "d", "mnist", "dataset: "+strings.Join(tasks.DatasetNames(), ", "))
	fl.StringVar(&f.stream, "stream", "split", "stream kind: split, permuted or joint")
	fl.IntVar(&f.tasks, "tasks", 5, "number of tasks (split: classes are divided evenly)")
	fl.StringVar(&f.classOrder, "class-order", "fixed", "split streams: fixed (0,1 | 2,3 | ...) or seeded")
	fl.StringSliceVar(&f.scenarios, "scenario", []string{"class", "task"}, "scenarios, comma-separated: task, domain, class")
	fl.IntVar(&f.seeds, "seeds", 1, "number of seeds")
	fl.Uint64Var(&f.firstSeed, "seed", 1, "first seed; seeds are seed, seed+1, ...")
	fl.StringVar(&f.db, "db", "results.db", "results database (SQLite)")
	fl.StringVar(&f.data, "data", "", "data folder holding <dataset>/ files (default: $NOPROP_DATA, then the standard places)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print every training epoch")
	fl.BoolVar(&f.rerun, "rerun", false, "run again configurations already finished in the database")
	return cmd
}

// parseSets turns key=value pairs into one JSON object per method; values
// that parse as JSON keep their type, others become strings. A key of the form
// method.key applies to that method only; a plain key applies to every method.
func parseSets(sets []string, method string) (json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want key=value or method.key=value", s)
		}
		if m, key, qualified := strings.Cut(k, "."); qualified {
			if m != method {
				continue
			}
			k = key
		}
		if json.Valid([]byte(v)) {
			obj[k] = json.RawMessage(v)
		} else {
			b, _ := json.Marshal(v)
			obj[k] = b
		}
	}
	return json.Marshal(obj)
}

// splitMethod reads "name" or "name:preset".
func splitMethod(arg, defaultPreset string) (name, preset string) {
	name, preset, ok := strings.Cut(arg, ":")
	if !ok {
		preset = defaultPreset
	}
	return name, preset
}

func (f runFlags) specs() ([]harness.Spec, error) {
	if f.seeds < 1 {
		return nil, fmt.Errorf("--seeds %d: need at least 1", f.seeds)
	}
	var specs []harness.Spec
	for _, arg := range f.methods {
		m, preset := splitMethod(arg, f.preset)
		overrides, err := parseSets(f.sets, m)
		if err != nil {
			return nil, err
		}
		for _, sc := range f.scenarios {
			scenario, err := tasks.ParseScenario(sc)
			if err != nil {
				return nil, err
			}
			for i := range f.seeds {
				s, err := harness.NewSpec(m, preset, overrides, f.dataset, f.stream, f.tasks, f.classOrder, string(scenario), f.firstSeed+uint64(i))
				if err != nil {
					return nil, fmt.Errorf("%s: %w", m, err)
				}
				specs = append(specs, s)
			}
		}
	}
	return specs, nil
}

func runRun(ctx context.Context, f runFlags) error {
	specs, err := f.specs()
	if err != nil {
		return err
	}
	// Check every method's settings before any training starts.
	if err := harness.CheckSettings(specs); err != nil {
		return err
	}
	store, err := results.Open(f.db)
	if err != nil {
		return err
	}
	defer store.Close()
	rn := &harness.Runner{
		Load: func(name string) (tasks.Dataset, error) { return tasks.Load(name, f.data) },
		Observers: []harness.Observer{
			&harness.StoreObserver{Store: store, Version: programVersion()},
			&harness.Progress{W: os.Stdout, Epochs: f.verbose},
		},
	}
	done := func(s harness.Spec) (bool, error) {
		if f.rerun {
			return false, nil
		}
		id, ok, err := store.FindDone(ctx, s.ConfigHash(), s.Seed)
		if ok {
			fmt.Printf("== %s %s %s-il seed %d: already done (run %s), skipped\n", s.Method, s.Dataset, s.Scenario, s.Seed, id[:8])
		}
		return ok, err
	}
	rep, runErr := rn.RunAll(ctx, specs, done)
	fmt.Printf("\n%d run(s) finished, %d skipped as already done, %d failed; results in %s\n", rep.Ran, rep.Skipped, rep.Failed, f.db)
	if err := printConfigs(ctx, store, specs); err != nil && runErr == nil {
		runErr = err
	}
	if errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("interrupted; finished runs are stored, run the same command again to resume")
	}
	return runErr
}

// printConfigs prints the mean accuracy matrix of each configuration in specs
// and one summary table of them all.
func printConfigs(ctx context.Context, store *results.Store, specs []harness.Spec) error {
	var sums []results.Summary
	seen := map[string]bool{}
	for _, s := range specs {
		h := s.ConfigHash()
		if seen[h] {
			continue
		}
		seen[h] = true
		got, err := store.Summaries(ctx, results.Filter{ConfigHash: h})
		if err != nil {
			return err
		}
		if len(got) == 0 {
			continue
		}
		mean, se, n, err := store.MeanMatrix(ctx, h)
		if err != nil {
			return err
		}
		fmt.Println()
		title := fmt.Sprintf("%s on %s, %s-il: accuracy (%%) on each task (columns) after each task (rows), mean over %d seed(s)", s.Method, got[0].Stream, s.Scenario, n)
		if err := results.WriteMatrix(os.Stdout, title, mean, se); err != nil {
			return err
		}
		sums = append(sums, got...)
	}
	if len(sums) == 0 {
		return nil
	}
	fmt.Println()
	return results.WriteTable(os.Stdout, sums, results.TableOptions{Metrics: summaryMetrics})
}
