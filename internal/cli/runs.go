package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
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
configuration and seed takes it over. A run that is not done and has a
checkpoint (in DB.ckpt beside the database) shows how far it had got when
it saved it: tasks done, the epoch of the task under way, and when. It only
reads the database and the checkpoints' headers.`,
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
			progress := checkpointProgress(sel.db, runs, time.Now())
			return table.WriteRuns(os.Stdout, runs, table.RunsOptions{StaleAfter: stale, ACC: acc, Format: f, Progress: progress})
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

// checkpointDir is the folder of the checkpoints of the runs stored in db.
func checkpointDir(db string) string { return db + ".ckpt" }

// checkpointProgress describes, by run ID, how far each run not done had
// got at its checkpoint ("task 1 of 5, epoch 23 (block 10), saved 4m
// ago"); runs without a checkpoint are left out, and an unreadable one is
// named as such rather than failing the listing.
func checkpointProgress(db string, runs []results.Run, now time.Time) map[string]string {
	dir := checkpointDir(db)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	out := map[string]string{}
	for _, r := range runs {
		if r.Status == results.StatusDone {
			continue
		}
		p, ok, err := harness.ReadProgress(dir, r.ConfigHash, r.Seed)
		switch {
		case err != nil:
			out[r.ID] = "unreadable"
		case ok:
			text := fmt.Sprintf("task %d of %d", min(p.Tasks+1, r.NumTasks), r.NumTasks)
			if p.Tasks >= r.NumTasks {
				text = fmt.Sprintf("%d of %d tasks", p.Tasks, r.NumTasks)
			} else if p.Epoch > 0 {
				text += fmt.Sprintf(", epoch %d", p.Epoch)
				if n := specEpochs(r.SpecJSON); n > 0 {
					text += fmt.Sprintf(" of %d", n)
				}
				if p.Part != "" {
					text += " (" + p.Part + ")"
				}
			}
			out[r.ID] = text + ", saved " + results.RoundAge(now.Sub(p.Saved)).String() + " ago"
		}
	}
	return out
}

// specEpochs is the epochs setting of a stored spec, or 0 (a budget in
// steps, or none).
func specEpochs(specJSON string) int {
	var spec struct {
		Settings struct {
			Epochs int `json:"epochs"`
		} `json:"settings"`
	}
	if json.Unmarshal([]byte(specJSON), &spec) != nil {
		return 0
	}
	return spec.Settings.Epochs
}
