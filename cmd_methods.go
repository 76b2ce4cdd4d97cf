package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/methods/catalog"
)

func methodsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "methods",
		Short: "List the learning rules with their default settings and presets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, m := range catalog.All {
				def, err := json.MarshalIndent(m.Defaults(), "    ", "  ")
				if err != nil {
					return err
				}
				fmt.Printf("%s\n  %s\n  defaults (override with --set key=value):\n    %s\n", m.Name, m.Summary, def)
				for _, p := range slices.Sorted(maps.Keys(m.Presets)) {
					fmt.Printf("  preset %s: %s\n", p, m.Presets[p])
				}
				fmt.Println()
			}
			return nil
		},
	}
}
