package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/export"
)

func exportCmd() *cobra.Command {
	var (
		sel    selection
		format string
		what   string
		status string
		out    string
	)
	cmd := &cobra.Command{
		Use:   "export --format csv|json [--what TABLE] [filters] [-o FILE]",
		Short: "Write the stored results as CSV or JSON, one row per fact",
		Long: `Export writes one long-format table of the runs that match the filters:
  runs       one row per run: its identity, status, times, memory and every setting (setting.<name>)
  cells      one row per accuracy-matrix cell (after_task 0 is the untrained model)
  metrics    one row per run and metric (acc, forgetting, bwt, fwt, ...)
  epochs     one row per training-log line (per block for NoProp)
  memory     one row per run: peak heap and RSS in bytes
  inference  one row per cell and inference run, for rules with stochastic inference
  probe      one row per cell and stage of the model, for runs made with --probe
Every table but runs starts with run_id, config_hash, method, preset,
settings (those that tell the configuration apart), stream, scenario,
strategy, seed and counted (whether the run is the one its unit counts). Missing values (NULL, NaN, not measured) are empty CSV fields and
JSON nulls. JSON is one array of objects. docs/export.md describes every
column; noprop import reads the CSV tables back into a database.`,
		Example: `  noprop export --format csv --what cells -o cells.csv
  noprop export --format json --what runs --method noprop-dt --status all
  noprop export --what probe --strategy finetune --select-by val-acc -o probe.csv   # the runs of each grid's choice
  python3 -c 'import pandas; print(pandas.read_csv("cells.csv").groupby(["method","scenario","after_task","eval_task"]).accuracy.mean())'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !slices.Contains(export.Formats, format) {
				return fmt.Errorf("--format %q: want csv or json", format)
			}
			w, err := export.ParseWhat(what)
			if err != nil {
				return err
			}
			st, err := parseStatus(status)
			if err != nil {
				return err
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
			if filter, _, err = sel.chosen(cmd.Context(), store, filter, os.Stderr); err != nil {
				return err
			}
			t, err := export.Build(cmd.Context(), store, w, filter)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				bw := bufio.NewWriter(os.Stdout)
				if err := t.Write(bw, format); err != nil {
					return err
				}
				return bw.Flush()
			}
			if err := outfile.Write(out, 0o644, func(w io.Writer) error { return t.Write(w, format) }); err != nil {
				return err
			}
			fmt.Printf("%s: %d %s row(s)\n", out, len(t.Rows), w)
			return nil
		},
	}
	fl := cmd.Flags()
	sel.addFlags(fl)
	sel.addSelectFlag(fl)
	fl.StringVar(&format, "format", "csv", "csv or json (an array of objects)")
	fl.StringVar(&what, "what", "runs", "table: runs, cells, metrics, epochs, memory, inference or probe")
	fl.StringVar(&status, "status", "done", "runs in this state: done, running, failed, interrupted, or all")
	fl.StringVarP(&out, "output", "o", "", "output file (default: standard output)")
	return cmd
}

func parseStatus(s string) (results.Status, error) {
	switch st := results.Status(s); st {
	case results.StatusDone, results.StatusRunning, results.StatusFailed, results.StatusInterrupted:
		return st, nil
	case "all":
		return "", nil
	}
	return "", fmt.Errorf("--status %q: want done, running, failed, interrupted or all", s)
}
