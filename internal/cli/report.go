package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results/report"
)

func reportCmd() *cobra.Command {
	var (
		sel selection
		dir string
		all bool
	)
	cmd := &cobra.Command{
		Use:   "report [filters] -o DIR",
		Short: "Write a self-contained results page (HTML, and Markdown with PNGs)",
		Long: `Report writes DIR/index.html, one page with the figures embedded (it needs no
other file), and the same content as DIR/report.md with the figures as
DIR/figures/*.png: the summary table (mean ± SE over seeds, as noprop
table --memory), each configuration's mean accuracy matrix, the figures of
noprop plot, and each configuration's exact settings (the stored spec),
program version, hosts, seeds and run IDs. Only finished runs count.
DIR and its missing parents are created; a figure an earlier report wrote
into DIR/figures that this one does not draw is removed, and nothing else.`,
		Example: `  noprop report -o report
  noprop report --method backprop,noprop-dt --dataset mnist --stream split -o split-mnist`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, filter, err := sel.open()
			if err != nil {
				return err
			}
			defer store.Close()
			opts := report.Options{Metrics: summaryMetrics, Source: sel.db, Version: programVersion()}
			if all {
				opts.Metrics = nil
			}
			r, err := report.Build(cmd.Context(), store, filter, opts)
			if err != nil {
				return err
			}
			if _, err := r.Write(dir); err != nil {
				return err
			}
			drawn := 0
			for _, f := range r.Figures {
				if f.Missing == "" {
					drawn++
				}
			}
			fmt.Printf("%s: %d configuration(s), %d figure(s) (%d kinds without data: the page says why); Markdown in %s\n",
				filepath.Join(dir, report.PageFile), len(r.Configs), drawn, len(r.Figures)-drawn, filepath.Join(dir, report.MarkdownFile))
			return nil
		},
	}
	fl := cmd.Flags()
	sel.addFlags(fl)
	fl.StringVarP(&dir, "output", "o", "report", "folder to write "+report.PageFile+", "+report.MarkdownFile+" and figures/ into")
	fl.BoolVar(&all, "all-metrics", false, "show every stored metric, not just ACC, forgetting, BWT and FWT")
	return cmd
}
