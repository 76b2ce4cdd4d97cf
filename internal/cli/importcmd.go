package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results/export"
)

func importCmd() *cobra.Command {
	var journal string
	cmd := &cobra.Command{
		Use:   "import OUT FILE...",
		Short: "Rebuild a results database from CSV exports",
		Long: `Import reads tables noprop export wrote as CSV (runs, and any of cells,
metrics, epochs, inference and probe; each file is told apart by its
columns) and stores their runs in OUT, each as it was: its ID, times,
status, memory and every row. table, plot, report and export then show of
OUT what they showed of the database exported, so a document's tables and
figures can be regenerated from the small exports committed beside it,
without the study's database. OUT is created when missing; a run it
already holds is refused (import into a new database). Every file is read
and checked before anything is written. A database that Slurm jobs will
write on a network file system wants --journal rollback.`,
		Example: `  noprop export --what runs -o runs.csv && noprop export --what cells -o cells.csv && noprop export --what metrics -o metrics.csv
  noprop import study.db runs.csv cells.csv metrics.csv && noprop table --db study.db
  noprop import --journal rollback runs/study/study.db runs.csv cells.csv metrics.csv   # before noprop slurm --out runs/study`,
		Args: args(2, true, "name the output database and at least the runs table: noprop import OUT runs.csv [cells.csv ...]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, names := args[0], args[1:]
			j, err := parseJournal(journal)
			if err != nil {
				return err
			}
			var files []io.Reader
			for _, n := range names {
				f, err := os.Open(n)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				files = append(files, f)
			}
			target, err := outputDatabase("import", out)
			if err != nil {
				return err
			}
			store, err := openOutput("import", out, target, j)
			if err != nil {
				return err
			}
			defer store.Close()
			n, err := export.Import(cmd.Context(), store, names, files)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %d run(s) imported\n", out, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&journal, "journal", "", journalUsage)
	return cmd
}
