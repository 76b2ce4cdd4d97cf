package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/tasks"
)

func dataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Find or download datasets",
	}
	var dest string
	fetch := &cobra.Command{
		Use:   "fetch NAME",
		Short: "Download a dataset's official files and verify their checksums",
		Long: `Fetch downloads the official files of a dataset into DEST/NAME/ and checks
their md5 sums; ` + "`noprop run --data DEST`" + ` then reads them. Needs internet access.`,
		Example: "  noprop data fetch mnist --dest data",
		Args:    args(1, false, "name one dataset, e.g. mnist"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return tasks.Fetch(cmd.Context(), args[0], dest, tasks.FetchOptions{Progress: os.Stdout})
		},
	}
	fetch.Flags().StringVar(&dest, "dest", "data", "data folder to download into")
	var dataDir string
	where := &cobra.Command{
		Use:   "where [NAME...]",
		Short: "Show where each dataset is read from, or how to get it",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = tasks.DatasetNames()
			}
			for _, n := range args {
				dir, err := tasks.Locate(n, dataDir)
				if err != nil {
					fmt.Printf("%-16s missing:\n%s\n", n, wrap(err.Error(), 18, 100))
					continue
				}
				fmt.Printf("%-16s %s\n", n, dir)
			}
			return nil
		},
	}
	where.Flags().StringVar(&dataDir, "data", "", "data folder holding <dataset>/ files (default: $NOPROP_DATA, then the standard places)")
	cmd.AddCommand(fetch, where)
	return cmd
}

// wrap breaks text into lines of at most width characters, each indented
// by indent blanks.
func wrap(text string, indent, width int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && indent+len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	pad := strings.Repeat(" ", indent)
	return pad + strings.Join(lines, "\n"+pad)
}
