package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/catalog"
)

func methodsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "methods [NAME...]",
		Short: "List the learning rules; with names, every setting with its type, default, allowed values and meaning",
		Example: `  noprop methods                 # every rule, its presets
  noprop methods noprop-dt       # every setting of NoProp-DT, and what each preset changes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return listMethods(os.Stdout, catalog.All)
			}
			for i, name := range args {
				m, err := catalog.All.Lookup(name)
				if err != nil {
					return err
				}
				if i > 0 {
					fmt.Println()
				}
				if err := describeMethod(os.Stdout, m); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func listMethods(w io.Writer, cat methods.Catalog) error {
	for _, m := range cat {
		fmt.Fprintf(w, "%s\n  %s\n", m.Name, m.Summary)
		if names := m.PresetNames(); len(names) > 0 {
			fmt.Fprintf(w, "  presets: %v\n", names)
		}
	}
	_, err := fmt.Fprintln(w, "\n`noprop methods NAME` prints every setting of a method and its presets; "+
		"set them with `noprop run --method NAME[:PRESET] --set key=value`.")
	return err
}

// describeMethod prints a method's settings as a table and its presets.
func describeMethod(w io.Writer, m methods.Method) error {
	fmt.Fprintf(w, "%s\n  %s\n", m.Name, m.Summary)
	if m.Stochastic {
		fmt.Fprintln(w, "  inference is stochastic: each trained model is evaluated --inference-runs times")
	}
	fmt.Fprintln(w, "\nsettings (override with --set key=value):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  name\ttype\tdefault\tallowed\tmeaning")
	for _, f := range m.Fields() {
		allowed := f.Allowed
		if allowed == "" {
			allowed = "any"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Name, f.Type, f.Default, allowed, f.Help)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range m.PresetNames() {
		fmt.Fprintf(w, "\npreset %s (--method %s:%s) sets: %s\n", p, m.Name, p, m.Presets[p])
	}
	return nil
}
