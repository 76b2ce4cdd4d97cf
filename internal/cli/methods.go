package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results/table"
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
			fmt.Fprintf(w, "  presets: %s\n", strings.Join(names, ", "))
		}
	}
	_, err := fmt.Fprintln(w, "\nnoprop methods NAME prints every setting of a method and its presets; "+
		"set them with noprop run --method NAME[:PRESET] --set key=value.")
	return err
}

// identityWords says whether a setting is part of a run's identity.
var identityWords = map[string]string{"": "yes", "runtime": "no", "default": "unless default"}

// describeMethod prints a method's settings as a table and its presets.
func describeMethod(w io.Writer, m methods.Method) error {
	fmt.Fprintf(w, "%s\n  %s\n", m.Name, m.Summary)
	if m.Stochastic {
		fmt.Fprintln(w, "  inference is stochastic: each trained model is evaluated --inference-runs times")
	}
	fmt.Fprintln(w, "\nsettings (override with --set key=value; \"identity\": whether changing it makes another configuration):")
	var rows [][]string
	for _, f := range m.Fields() {
		allowed := f.Allowed
		if allowed == "" {
			allowed = "any"
		}
		rows = append(rows, []string{f.Name, f.Type, f.Default, allowed, identityWords[f.Identity], f.Help})
	}
	if err := table.WriteRows(w, table.Text, 6, []string{"name", "type", "default", "allowed", "identity", "meaning"}, rows); err != nil {
		return err
	}
	for _, p := range m.PresetNames() {
		fmt.Fprintf(w, "\npreset %s (--method %s:%s) sets: %s\n", p, m.Name, p, presetWords(m.Presets[p]))
	}
	return nil
}

// presetWords writes a preset's settings as key=value pairs in its order.
func presetWords(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return string(raw)
	}
	var parts []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return string(raw)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return string(raw)
		}
		parts = append(parts, fmt.Sprintf("%v=%s", k, strings.Trim(string(v), `"`)))
	}
	return strings.Join(parts, ", ")
}
