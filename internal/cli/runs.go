package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/table"
)

func runsCmd() *cobra.Command {
	var (
		sel      selection
		status   string
		stale    time.Duration
		markdown bool
	)
	statuses := []string{string(results.StatusRunning), string(results.StatusDone), string(results.StatusFailed), string(results.StatusInterrupted)}
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
			if status != "" && !slices.Contains(statuses, status) {
				return fmt.Errorf("--status %q: want one of %s", status, strings.Join(statuses, ", "))
			}
			if stale <= 0 {
				return fmt.Errorf("--stale %s: want a positive duration, e.g. 5m", stale)
			}
			store, filter, err := sel.open()
			if err != nil {
				return err
			}
			defer store.Close()
			filter.Status = results.Status(status)
			runs, err := store.Runs(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				fmt.Printf("no runs in %s match the filter\n", sel.db)
				return nil
			}
			return table.WriteRuns(os.Stdout, runs, table.RunsOptions{StaleAfter: stale, Markdown: markdown})
		},
	}
	fl := cmd.Flags()
	sel.addFlags(fl)
	fl.StringVar(&status, "status", "", "only runs in this state: "+strings.Join(statuses, ", "))
	fl.DurationVar(&stale, "stale", results.DefaultStaleAfter, "heartbeat age after which a running run's owner counts as gone")
	fl.BoolVar(&markdown, "markdown", false, "print a Markdown table")
	return cmd
}
