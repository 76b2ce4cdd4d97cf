package figure

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/noprop/noprop/results"
)

// Data is what the figures draw: the done runs that match a filter, one
// Config per configuration, in the order of results.Summaries (stream,
// scenario, method).
type Data struct {
	Configs []Config
	// References are published curves a compare figure draws beside the
	// configurations' (ParseReference).
	References []Reference
}

// Config is one configuration (method, settings, stream and scenario) and
// the runs of its seeds.
type Config struct {
	// Summary aggregates the runs over seeds (one run per seed).
	Summary results.Summary
	// Runs are the aggregated runs, in the order of Summary.RunIDs.
	Runs []results.Run
	// Preset is the spec's settings preset ("" when none).
	Preset string
	// Strategy is the spec's strategy ("" for fine-tuning, the default).
	Strategy string
	// Mean and SE are the mean accuracy matrix over the runs and its
	// standard error; Matrices the runs' own, in the order of Runs.
	Mean, SE [][]float64
	Matrices [][][]float64
	// Epochs are the runs' training logs, in the order of Runs.
	Epochs [][]results.Epoch
	// Probe are the runs' probes (results.Store.Probe), in the order of
	// Runs; empty for runs made without one.
	Probe [][]results.ProbeCell
	// Ambiguous is set when another Config shares method, preset, stream
	// and scenario, so labels must tell them apart: by Differs, the
	// settings in which the method's configurations differ with this
	// one's values (results.SettingsThatDiffer), else by the config hash.
	Ambiguous bool
	Differs   string
}

// NumTasks is the number of tasks of the configuration's stream.
func (c *Config) NumTasks() int { return len(c.Mean[0]) }

// Method returns the method as noprop run names it: name or name:preset,
// followed by what tells it apart when the label would be ambiguous.
func (c *Config) Method() string {
	m := c.Summary.Method
	if c.Preset != "" {
		m += ":" + c.Preset
	}
	if c.Strategy != "" {
		m += " (" + c.Strategy + ")"
	}
	if c.Ambiguous {
		if c.Differs != "" {
			m += " " + c.Differs
		} else {
			m += " " + shortHash(c.Summary.ConfigHash)
		}
	}
	return m
}

// Setting returns the configuration's stream and scenario, e.g.
// "split-mnist, class-IL".
func (c *Config) Setting() string {
	return c.Summary.Stream + ", " + scenarioName(c.Summary.Scenario)
}

// Seeds describes the number of seeds, e.g. "3 seeds".
func (c *Config) Seeds() string {
	if c.Summary.N == 1 {
		return "1 seed"
	}
	return fmt.Sprintf("%d seeds", c.Summary.N)
}

func scenarioName(s string) string { return strings.TrimSuffix(s, "-il") + "-IL" }

func shortHash(h string) string {
	if len(h) > 8 {
		return h[:8]
	}
	return h
}

// Load reads the done runs that match f. When none does it returns the
// store's one-line explanation (see results.Store.RequireMatch).
func Load(ctx context.Context, s *results.Store, f results.Filter) (*Data, error) {
	f.Status = results.StatusDone
	if err := s.RequireMatch(ctx, f); err != nil {
		return nil, err
	}
	sums, err := s.Summaries(ctx, f)
	if err != nil {
		return nil, err
	}
	d := &Data{}
	for _, sum := range sums {
		c := Config{Summary: sum}
		c.Mean, c.SE, c.Matrices, err = s.SummaryMatrix(ctx, sum)
		if err != nil {
			return nil, err
		}
		for _, id := range sum.RunIDs {
			r, err := s.Run(ctx, id)
			if err != nil {
				return nil, err
			}
			ep, err := s.Epochs(ctx, id)
			if err != nil {
				return nil, err
			}
			pr, err := s.Probe(ctx, id)
			if err != nil {
				return nil, err
			}
			c.Runs = append(c.Runs, r)
			c.Epochs = append(c.Epochs, ep)
			c.Probe = append(c.Probe, pr)
		}
		var spec struct {
			Preset   string `json:"preset"`
			Strategy string `json:"strategy"`
		}
		if err := json.Unmarshal([]byte(c.Runs[0].SpecJSON), &spec); err == nil {
			c.Preset, c.Strategy = spec.Preset, spec.Strategy
		}
		d.Configs = append(d.Configs, c)
	}
	type key struct{ method, preset, strategy, stream, scenario string }
	count := map[key]int{}
	for _, c := range d.Configs {
		count[key{c.Summary.Method, c.Preset, c.Strategy, c.Summary.Stream, c.Summary.Scenario}]++
	}
	differs := results.SettingsThatDiffer(sums)
	for i := range d.Configs {
		c := &d.Configs[i]
		c.Ambiguous = count[key{c.Summary.Method, c.Preset, c.Strategy, c.Summary.Stream, c.Summary.Scenario}] > 1
		c.Differs = differs[c.Summary.ConfigHash]
	}
	return d, nil
}

// settings groups the configurations by stream and scenario, in order:
// the rows of the tiled figures.
func (d *Data) settings() [][]*Config {
	var rows [][]*Config
	for i := range d.Configs {
		c := &d.Configs[i]
		if n := len(rows); n > 0 && rows[n-1][0].Setting() == c.Setting() {
			rows[n-1] = append(rows[n-1], c)
			continue
		}
		rows = append(rows, []*Config{c})
	}
	return rows
}
