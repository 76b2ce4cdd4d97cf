package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/table"
)

func runsCmd() *cobra.Command {
	var (
		sel    selection
		status string
		stale  time.Duration
		format string
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the stored runs with their state, owner and heartbeat",
		Long: `Runs lists every stored run, oldest first: its ID, method, stream, scenario,
seed, status and rerun generation, when it started, its owner (host:pid) and
the age of its heartbeat. For a running run the note says whether its owner
looks alive: a run whose heartbeat is older than --stale, or whose process is
gone from this machine, is dead, and the next batch that reaches its
configuration and seed takes it over. It only reads the database.`,
		Example: `  noprop runs
  noprop runs --status running
  noprop runs --method noprop-dt --scenario class`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := parseStatus(status)
			if err != nil {
				return err
			}
			f, err := table.ParseFormat(format)
			if err != nil {
				return err
			}
			if stale <= 0 {
				return fmt.Errorf("--stale %s: want a positive duration, e.g. 5m", stale)
			}
			store, filter, err := sel.open()
			if err != nil {
				return err
			}
			defer store.Close()
			filter.Status = st
			if err := store.RequireMatch(cmd.Context(), filter); err != nil {
				return err
			}
			runs, err := store.Runs(cmd.Context(), filter)
			if err != nil {
				return err
			}
			acc, err := doneACC(cmd.Context(), store, runs)
			if err != nil {
				return err
			}
			return table.WriteRuns(os.Stdout, runs, table.RunsOptions{StaleAfter: stale, ACC: acc, Format: f})
		},
	}
	fl := cmd.Flags()
	sel.addFlags(fl)
	fl.StringVar(&status, "status", "all", "runs in this state: done, running, failed, interrupted, or all")
	fl.DurationVar(&stale, "stale", results.DefaultStaleAfter, "heartbeat age after which a running run's owner counts as gone")
	fl.StringVar(&format, "format", string(table.Text), table.FormatUsage)
	return cmd
}

// doneACC reads the ACC of every done run.
func doneACC(ctx context.Context, store *results.Store, runs []results.Run) (map[string]float64, error) {
	acc := map[string]float64{}
	for _, r := range runs {
		if r.Status != results.StatusDone {
			continue
		}
		ms, err := store.Metrics(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Name == metrics.ACC && !math.IsNaN(m.Value) {
				acc[r.ID] = m.Value
			}
		}
	}
	return acc, nil
}
