package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/results/figure"
)

func plotCmd() *cobra.Command {
	var (
		sel  selection
		out  string
		refs []string
	)
	var kinds strings.Builder
	for _, k := range figure.Kinds() {
		fmt.Fprintf(&kinds, "  %-8s %s\n", k, figure.Describe(k))
	}
	cmd := &cobra.Command{
		Use:   "plot KIND [filters] -o FILE",
		Short: "Draw a figure of the stored results (PNG, SVG or PDF)",
		Long: `Plot draws one figure of the finished runs that match the filters, mean
over seeds: matrix and curves a panel per configuration (method, settings,
stream, scenario), average and compare a panel per stream and scenario with
every configuration on it. The file's extension picks the format: .png, .svg
or .pdf.

Kinds:
` + kinds.String(),
		Example: `  noprop plot matrix -o matrix.png
  noprop plot curves --method backprop,noprop-dt --scenario class,task -o curves.pdf
  noprop plot average --dataset mnist --stream split -o average.pdf
  noprop plot bars --dataset mnist --stream split -o bars.svg
  noprop plot average --select-by val-acc -o average.png   # each grid's choice on validation
  noprop plot compare --dataset cifar100 --reference "paper, Figure 3=19:13,60:22.6" -o ct.png`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("plot: name one figure kind: %s", kindList())
			}
			_, err := figure.ParseKind(args[0])
			return err
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, _ := figure.ParseKind(args[0])
			if out == "" {
				out = string(kind) + ".png"
			}
			if _, err := figure.FormatOf(out); err != nil {
				return err
			}
			references, err := parseReferences(kind, refs)
			if err != nil {
				return err
			}
			store, filter, err := sel.open()
			if err != nil {
				return err
			}
			defer store.Close()
			if filter, _, err = sel.chosen(cmd.Context(), store, filter, cmd.ErrOrStderr()); err != nil {
				return err
			}
			data, err := figure.Load(cmd.Context(), store, filter)
			if err != nil {
				return err
			}
			data.References = references
			fig, err := figure.Draw(kind, data)
			if err != nil {
				return err
			}
			if err := fig.Save(out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s of %d configuration(s)\n", out, kind, len(data.Configs))
			return nil
		},
	}
	sel.addFlags(cmd.Flags())
	sel.addSelectFlag(cmd.Flags())
	cmd.Flags().StringVarP(&out, "output", "o", "", "figure file: .png, .svg or .pdf (default KIND.png)")
	cmd.Flags().StringArrayVar(&refs, "reference", nil, "compare: a published curve to draw dashed beside the runs', LABEL=EPOCH:VALUE,EPOCH:VALUE (repeatable)")
	return cmd
}

// parseReferences reads the --reference flags, which only the compare
// figure takes.
func parseReferences(kind figure.Kind, refs []string) ([]figure.Reference, error) {
	var out []figure.Reference
	for _, r := range refs {
		if kind != figure.Compare {
			return nil, fmt.Errorf("--reference goes with the compare figure, not %s", kind)
		}
		ref, err := figure.ParseReference(r)
		if err != nil {
			return nil, fmt.Errorf("--reference: %w", err)
		}
		out = append(out, ref)
	}
	return out, nil
}

func kindList() string {
	var names []string
	for _, k := range figure.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ", ")
}
