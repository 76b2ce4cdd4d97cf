package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
)

func planCmd() *cobra.Command {
	var db string
	cmd := &cobra.Command{
		Use:   "plan SWEEP.yaml",
		Short: "List every run a sweep file describes, which are done, and how long the rest should take",
		Long: `Plan reads a sweep file, checks all of it (every method, preset, setting,
dataset, stream, scenario and the seed range) and lists every run it would
make: method, configuration hash, scenario, seed, and whether the results
database already holds it. The time left is estimated from the stored runs
of the same configuration (other seeds). It never writes the database.

A sweep file (YAML):

  methods:
    - name: backprop
    - name: noprop-dt
      preset: quick
      settings: {iterations: 2000}
      grid:                         # every combination is one configuration
        lr: [0.001, 0.0003]
  datasets: [mnist]                 # default [mnist]
  streams: [split]                  # default [split]
  tasks: 5                          # default: 5 for split, 10 for permuted
  class_order: fixed                # default fixed
  scenarios: [task, domain, class]  # default [class, task]
  seeds: 5                          # default 1
  first_seed: 1                     # default 1
  inference_runs: 5                 # default 5
  test_every: 5                     # learning curve: test accuracy every 5 epochs; default 0, none
  pixels: standard                  # each channel by the first task's training statistics; default raw

Run it with ` + "`noprop run --sweep FILE`" + `.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := harness.ReadSweepFile(args[0], catalog.All, nil)
			if err != nil {
				return err
			}
			return printPlan(cmd.Context(), db, specs)
		},
	}
	cmd.Flags().StringVar(&db, "db", "results.db", "results database (SQLite); read only")
	return cmd
}

func printPlan(ctx context.Context, db string, specs []harness.Spec) error {
	var store *results.Store
	if _, err := os.Stat(db); err == nil {
		if store, err = readResults(db); err != nil {
			return err
		}
		defer store.Close()
	}
	type estimate struct {
		seconds float64
		ok      bool
	}
	estimates := map[string]estimate{}
	estimateOf := func(hash string) (estimate, error) {
		if e, ok := estimates[hash]; ok || store == nil {
			return e, nil
		}
		runs, err := store.Runs(ctx, results.Filter{ConfigHash: hash, Status: results.StatusDone})
		if err != nil {
			return estimate{}, err
		}
		var e estimate
		for _, r := range runs {
			e.seconds += r.Ended.Sub(r.Started).Seconds() / float64(len(runs))
			e.ok = true
		}
		estimates[hash] = e
		return e, nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tmethod\tconfig\tdataset\tstream\tscenario\tseed\tstate\testimate")
	var done, todo, running, unknown int
	var left float64
	for i, s := range specs {
		h := s.ConfigHash()
		state := "to run"
		if store != nil {
			id, ok, err := store.FindDone(ctx, h, s.Seed)
			if err != nil {
				return err
			}
			if ok {
				state = "done (run " + id[:8] + ")"
			} else if held, err := liveHolder(ctx, store, h, s.Seed); err != nil {
				return err
			} else if held != "" {
				state = held
			}
		}
		est := ""
		if strings.HasPrefix(state, "running") {
			running++
		} else if state == "to run" {
			todo++
			e, err := estimateOf(h)
			if err != nil {
				return err
			}
			if e.ok {
				left += e.seconds
				est = (time.Duration(e.seconds) * time.Second).Round(time.Second).String()
			} else {
				unknown++
				est = "no run of this configuration yet"
			}
		} else {
			done++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", i+1, s.Method, h, s.Dataset, s.Stream, s.Scenario, s.Seed, state, est)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Printf("\n%d run(s): %d done, %d running, %d to run", len(specs), done, running, todo)
	if todo > 0 {
		fmt.Printf("; estimated %s for the %d with a stored run of the same configuration",
			(time.Duration(left) * time.Second).Round(time.Second), todo-unknown)
		if unknown > 0 {
			fmt.Printf(", %d without an estimate", unknown)
		}
	}
	fmt.Println()
	return nil
}

// liveHolder describes the run of another process that trains the unit
// (config hash, seed) now, or returns "" when none does.
func liveHolder(ctx context.Context, store *results.Store, hash string, seed uint64) (string, error) {
	runs, err := store.Runs(ctx, results.Filter{ConfigHash: hash, Status: results.StatusRunning})
	if err != nil {
		return "", err
	}
	now := time.Now()
	for _, r := range runs {
		if r.Seed != seed {
			continue
		}
		if st, why := results.Liveness(r, results.DefaultStaleAfter, now); st == results.OwnerAlive {
			return fmt.Sprintf("running (run %s on %s: %s)", r.ID[:8], r.Host, why), nil
		}
	}
	return "", nil
}
