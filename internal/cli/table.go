package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/metrics"
	"github.com/noprop/noprop/results/paper"
	"github.com/noprop/noprop/results/table"
)

// selectBy keeps the summaries --select-by chooses (all of them when it is
// empty) and says why each won.
func selectBy(sums []results.Summary, by string, stderr io.Writer) ([]results.Summary, map[string]string, error) {
	switch by {
	case "":
		return sums, nil, nil
	case "val-acc":
	default:
		return nil, nil, fmt.Errorf("--select-by %q: want val-acc (the best mean validation ACC of each grid)", by)
	}
	chosen, why, dropped := results.SelectBy(sums, metrics.ValACC)
	if len(chosen) == 0 {
		return nil, nil, errors.New("--select-by val-acc: no configuration has a validation ACC; run with --validation (sweep files: validation) first")
	}
	if dropped > 0 {
		fmt.Fprintf(stderr, "noprop: --select-by val-acc left out %d configuration(s) run without a validation set\n", dropped)
	}
	return chosen, why, nil
}

// summaryMetrics are the columns shown unless --all-metrics is given.
var summaryMetrics = []string{metrics.ACC, metrics.Forgetting, metrics.BWT, metrics.FWT}

// tableFlags are the flags of noprop table.
type tableFlags struct {
	sel      selection
	memory   bool
	matrices bool
	format   string
	all      bool
	vsPaper  bool
	versus   string
}

func tableCmd() *cobra.Command {
	var tf tableFlags
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Print the stored results: one row per method x stream x scenario, mean ± standard error over seeds",
		Long: `Table reads the results database and prints one row per configuration
(method, stream, scenario and settings) with the number of seeds and, per
metric, the mean ± standard error over the seeds (percent). ACC is the final
average accuracy, forgetting is Chaudhry et al.'s (best earlier accuracy minus
final), BWT and FWT are GEM's backward and forward transfer. Only finished
runs count. The filter flags are those of plot, report and export.

With --versus METHOD it prints, instead, each other configuration beside
METHOD's in the same stream, scenario and strategy: per metric the
difference of the means (this row's minus METHOD's) ± its standard error,
with the two-sided p-value of Welch's t-test over the two sets of seeds.
Where METHOD was run over a grid, --select-by val-acc keeps the
configuration validation chose on both sides, or METHOD,KEY=VALUE names
one configuration by its settings (a control against the others of its
grid).`,
		Example: `  noprop table --matrices --memory
  noprop table --method backprop,noprop-dt:quick --dataset mnist --stream split --scenario class
  noprop table --config 3f2a --since 2026-01-05
  noprop table --paper                  # beside the NoProp paper's Table 1
  noprop table --versus backprop-dt --select-by val-acc   # each rule minus backprop-dt, with Welch's p
  noprop table --method noprop-dt --setting lr=0.001 --versus noprop-dt,embedding=one-hot,train_order=sequential`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return tf.run(cmd) },
	}
	fl := cmd.Flags()
	tf.sel.addFlags(fl)
	fl.BoolVar(&tf.memory, "memory", false, "add peak heap and RSS columns")
	fl.BoolVar(&tf.matrices, "matrices", false, "print each configuration's mean accuracy matrix first")
	fl.StringVar(&tf.format, "format", string(table.Text), table.FormatUsage)
	fl.BoolVar(&tf.all, "all-metrics", false, "show every stored metric, not just ACC, forgetting, BWT and FWT")
	tf.sel.addSelectFlag(fl)
	fl.BoolVar(&tf.vsPaper, "paper", false, "set the joint-stream, class-IL configurations beside the NoProp paper's Table 1: ours as mean ± SE over seeds × inference runs, the paper's, the difference in standard errors, budget and peak memory beside Table 3")
	fl.StringVar(&tf.versus, "versus", "", "print each other configuration minus this one (name or name:preset, then any KEY=VALUE settings, comma-separated) in the same stream, scenario and strategy: the difference of means ± SE and Welch's p per metric")
	return cmd
}

// run prints the table the flags ask for.
func (tf *tableFlags) run(cmd *cobra.Command) error {
	format, err := table.ParseFormat(tf.format)
	if err != nil {
		return err
	}
	if tf.vsPaper && tf.versus != "" {
		return errors.New("--paper and --versus are two different tables; give one")
	}
	if tf.versus != "" {
		if _, err := table.ParseVersus(tf.versus); err != nil {
			return err
		}
	}
	store, filter, err := tf.sel.openDone(cmd.Context())
	if err != nil {
		return err
	}
	defer store.Close()
	out := cmd.OutOrStdout()
	if tf.vsPaper {
		cs, err := paper.Compare(cmd.Context(), store, filter)
		if err != nil {
			return err
		}
		return paper.Write(out, cs, format)
	}
	sums, err := store.Summaries(cmd.Context(), filter)
	if err != nil {
		return err
	}
	var selected map[string]string
	if sums, selected, err = selectBy(sums, tf.sel.selectBy, cmd.ErrOrStderr()); err != nil {
		return err
	}
	if tf.matrices {
		for _, s := range sums {
			mean, se, _, err := store.SummaryMatrix(cmd.Context(), s)
			if err != nil {
				return err
			}
			title := fmt.Sprintf("%s on %s, %s (config %s): accuracy (%%), mean over %d seed(s)", table.MethodName(s.Method, s.SpecJSON), s.Stream, s.Scenario, s.ConfigHash, s.N)
			if err := table.WriteMatrix(out, format, title, mean, se); err != nil {
				return err
			}
			fmt.Fprintln(out)
		}
	}
	opts := table.Options{Memory: tf.memory, Format: format, Metrics: summaryMetrics, Selected: selected}
	if tf.all {
		opts.Metrics = nil
	}
	if tf.versus != "" {
		return table.WriteVersus(out, sums, tf.versus, opts)
	}
	return table.Write(out, sums, opts)
}
