package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results"
)

// summaryMetrics are the columns shown unless --all-metrics is given.
var summaryMetrics = []string{results.MetricACC, results.MetricForgetting, results.MetricBWT, results.MetricFWT}

func tableCmd() *cobra.Command {
	var (
		db       string
		filter   results.Filter
		memory   bool
		matrices bool
		markdown bool
		all      bool
	)
	cmd := &cobra.Command{
		Use:   "table",
		Short: "Print the stored results: one row per method x stream x scenario, mean ± standard error over seeds",
		Long: `Table reads the results database and prints one row per configuration
(method, stream, scenario and settings) with the number of seeds and, per
metric, the mean ± standard error over the seeds (percent). ACC is the final
average accuracy, forgetting is Chaudhry et al.'s (best earlier accuracy minus
final), BWT and FWT are GEM's backward and forward transfer. Only finished
runs count.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := readResults(db)
			if err != nil {
				return err
			}
			defer store.Close()
			filter.Scenario = strings.TrimSuffix(filter.Scenario, "-il")
			sums, err := store.Summaries(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if len(sums) == 0 {
				return fmt.Errorf("no finished runs in %s match the filter", db)
			}
			if matrices {
				for _, s := range sums {
					mean, se, n, err := store.MeanMatrix(cmd.Context(), s.ConfigHash)
					if err != nil {
						return err
					}
					title := fmt.Sprintf("%s on %s, %s-il (config %s): accuracy (%%), mean over %d seed(s)", s.Method, s.Stream, s.Scenario, s.ConfigHash, n)
					if err := results.WriteMatrix(os.Stdout, title, mean, se); err != nil {
						return err
					}
					fmt.Println()
				}
			}
			opts := results.TableOptions{Memory: memory, Markdown: markdown, Metrics: summaryMetrics}
			if all {
				opts.Metrics = nil
			}
			return results.WriteTable(os.Stdout, sums, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&db, "db", "results.db", "results database (SQLite)")
	fl.StringVar(&filter.Method, "method", "", "only this method")
	fl.StringVar(&filter.Stream, "stream", "", "only this stream, e.g. split-mnist")
	fl.StringVar(&filter.Scenario, "scenario", "", "only this scenario: task, domain or class")
	fl.BoolVar(&memory, "memory", false, "add peak heap and RSS columns")
	fl.BoolVar(&matrices, "matrices", false, "print each configuration's mean accuracy matrix first")
	fl.BoolVar(&markdown, "markdown", false, "print Markdown tables")
	fl.BoolVar(&all, "all-metrics", false, "show every stored metric, not just ACC, forgetting, BWT and FWT")
	return cmd
}
