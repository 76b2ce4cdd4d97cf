package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/results"
)

func mergeCmd() *cobra.Command {
	var (
		all     bool
		journal string
	)
	cmd := &cobra.Command{
		Use:   "merge OUT IN...",
		Short: "Merge results databases into one, run by run",
		Long: `Merge copies the runs of every IN database into OUT, by run ID: a run OUT
lacks is added with every row it recorded, one OUT has with the same
contents is left alone, so merging again changes nothing. A run OUT has
with other contents is a conflict: OUT's copy is kept and the other is
stored whole, as JSON, in OUT's table merge_conflicts, so neither is lost.
OUT is created when missing, with its missing folders; a symbolic link is
followed to its file; a FIFO or device is refused, since a database is read
back and changed in place.

Only done runs are merged unless --all also takes failed and interrupted ones;
running runs never are, since they are still being written. The inputs are
only read; one of an older schema version is read as it is, one of a newer
version is refused. Every input is opened before anything is written, and
each is merged in one transaction. An input whose writer was killed while it
committed in the rollback journal is rolled back first, as its next writer
would (see --journal).`,
		Example: `  noprop merge all.db node1.db node2.db node3.db
  noprop merge --all all.db laptop.db`,
		Args: args(2, true, "name the output database and at least one input: noprop merge OUT IN..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, ins := args[0], args[1:]
			j, err := parseJournal(journal)
			if err != nil {
				return err
			}
			if a, b, twice := namedTwice(args); twice {
				if a == out {
					return fmt.Errorf("merge: %s is both the output and an input; name the output once, first, and only other databases after it", b)
				}
				return fmt.Errorf("merge: %s and %s are one database; name each input once", a, b)
			}
			target, err := outputDatabase("merge", out)
			if err != nil {
				return err
			}
			var srcs []*results.Store
			defer func() {
				for _, s := range srcs {
					s.Close()
				}
			}()
			for _, in := range ins {
				s, err := results.OpenInput(in)
				if err != nil {
					return err
				}
				srcs = append(srcs, s)
			}
			store, err := openOutput("merge", out, target, j)
			if err != nil {
				return err
			}
			defer store.Close()
			var total results.MergeReport
			for _, src := range srcs {
				rep, err := store.Merge(cmd.Context(), src, results.MergeOptions{Ended: all})
				if err != nil {
					return err
				}
				total.Add(rep)
			}
			if err := rehash(cmd.Context(), store); err != nil {
				return err
			}
			fmt.Println(mergeSummary(out, len(ins), total, all))
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "also merge failed and interrupted runs")
	cmd.Flags().StringVar(&journal, "journal", "", journalUsage)
	return cmd
}

// outputDatabase returns the file a database named out is written to: out
// itself, or the file its symbolic links lead to. A database is read back
// and changed in place, so unlike the outputs of package outfile it cannot
// be a FIFO or a device: those, and folders, are refused.
func outputDatabase(verb, out string) (string, error) {
	target, err := outfile.Target(out)
	if err != nil {
		return "", fmt.Errorf("%s: %w", verb, err)
	}
	st, err := os.Stat(target)
	switch {
	case err != nil: // missing: created, with its folders
		if err := outfile.Check(out); err != nil {
			return "", fmt.Errorf("%s: %w", verb, err)
		}
		return target, nil
	case st.IsDir():
		return "", fmt.Errorf("%s: %s is a folder; name a database file, e.g. %s", verb, out, filepath.Join(out, "results.db"))
	case !st.Mode().IsRegular():
		return "", fmt.Errorf("%s: %s is not a regular file (%s); a database is read back and changed in place, so name a file", verb, out, fileKind(st.Mode()))
	}
	return target, nil
}

// openOutput opens the output database out, whose file is target, creating
// its missing folders: merge calls it once every input is open.
func openOutput(verb, out, target string, j results.Journal) (*results.Store, error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return nil, fmt.Errorf("%s: create the folder of %s: %w", verb, out, err)
	}
	return results.OpenJournal(target, j)
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "not a file"
}

// mergeSummary is merge's one line of output.
func mergeSummary(out string, inputs int, r results.MergeReport, all bool) string {
	what := "database"
	if inputs > 1 {
		what = "databases"
	}
	parts := []string{fmt.Sprintf("%d runs added", r.Added), fmt.Sprintf("%d identical", r.Identical)}
	if r.Updated > 0 {
		parts = append(parts, fmt.Sprintf("%d unfinished copies replaced by finished ones", r.Updated))
	}
	if r.Conflicts > 0 {
		parts = append(parts, fmt.Sprintf("%d conflicts (%s's copies kept, the others stored in its table merge_conflicts)", r.Conflicts, out))
	}
	if r.LeftOut > 0 {
		why := "running, failed or interrupted; --all adds the failed and interrupted"
		if all {
			why = "still running"
		}
		parts = append(parts, fmt.Sprintf("%d left out (%s)", r.LeftOut, why))
	}
	return fmt.Sprintf("merged %d %s into %s: %s", inputs, what, out, strings.Join(parts, ", "))
}
