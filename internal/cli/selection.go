package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/noprop/noprop/results"
)

// selection is the database and run filter that every command reading
// results takes (table, plot, report, export), with the flags spelled as
// `noprop run` spells them.
type selection struct {
	db                      string
	methods, scenarios      []string
	dataset, stream, config string
	setting                 string
	strategies              []string
	since, until            string
	// selectBy, when set, keeps of each grid the configuration it chooses
	// (only on the commands that register it: addSelectFlag).
	selectBy string
}

// addFlags registers the selection's flags on fl.
func (s *selection) addFlags(fl *pflag.FlagSet) {
	fl.StringVar(&s.db, "db", "results.db", "results database (SQLite), read only")
	listVarP(fl, &s.methods, "method", "m", nil, "only these methods, comma-separated, as name or name:preset (a name alone matches every preset)")
	fl.StringVarP(&s.dataset, "dataset", "d", "", "only this dataset, e.g. mnist (comma-separated for several)")
	fl.StringVar(&s.stream, "stream", "", "only this stream kind: split, permuted or joint (comma-separated for several)")
	listVarP(fl, &s.scenarios, "scenario", "", nil, "only these scenarios, comma-separated: task, domain, class")
	listVarP(fl, &s.strategies, "strategy", "", nil, "only these strategies, comma-separated: finetune, replay, cumulative, joint")
	fl.StringVar(&s.config, "config", "", "only configurations whose hash starts with this (comma-separated for several)")
	fl.StringVar(&s.setting, "setting", "", "only runs whose method settings hold these KEY=VALUE pairs, comma-separated (e.g. embedding=learned,lr=0.001); pairs of one key are alternatives; METHOD.KEY=VALUE concerns that method's runs only")
	fl.StringVar(&s.since, "since", "", "only runs started on or after this date (2006-01-02) or time (2006-01-02T15:04)")
	fl.StringVar(&s.until, "until", "", "only runs started on or before this date (the whole day) or time")
}

// addSelectFlag registers --select-by on fl, for the commands that show
// configurations side by side (table, plot) or export what they show.
func (s *selection) addSelectFlag(fl *pflag.FlagSet) {
	fl.StringVar(&s.selectBy, "select-by", "", "val-acc: per method, stream, scenario and strategy, keep only the configuration (of a grid) with the best mean validation ACC over seeds, with its test numbers and why it won; runs need a validation set (noprop run --validation)")
}

// filter checks the flags' values and returns the filter they describe.
func (s *selection) filter() (results.Filter, error) {
	f := results.Filter{
		Method:     strings.Join(s.methods, ","),
		Dataset:    s.dataset,
		StreamKind: s.stream,
		Scenario:   strings.Join(s.scenarios, ","),
		Strategy:   strings.Join(s.strategies, ","),
		ConfigHash: strings.ToLower(s.config),
		Setting:    s.setting,
	}
	if _, err := results.ParseSettingMatches(s.setting); err != nil {
		return f, err
	}
	var err error
	if s.since != "" {
		if f.Since, err = results.ParseTimeBound(s.since, false); err != nil {
			return f, fmt.Errorf("--since %w", err)
		}
	}
	if s.until != "" {
		if f.Until, err = results.ParseTimeBound(s.until, true); err != nil {
			return f, fmt.Errorf("--until %w", err)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return f, fmt.Errorf("--until %s is before --since %s", s.until, s.since)
	}
	return f, nil
}

// open checks the flags and opens the database read-only; a missing file
// is one line saying to run `noprop run` first. The caller closes the store.
func (s *selection) open() (*results.Store, results.Filter, error) {
	f, err := s.filter()
	if err != nil {
		return nil, f, err
	}
	store, err := results.OpenReadOnly(s.db)
	if errors.Is(err, results.ErrNoResults) {
		return nil, f, fmt.Errorf("no results database %s: run `noprop run` first, or name one with --db", s.db)
	}
	if err != nil {
		return nil, f, err
	}
	return store, f, nil
}

// openDone is open for commands that show finished runs only: it also
// fails, with the store's explanation, when no finished run matches.
func (s *selection) openDone(ctx context.Context) (*results.Store, results.Filter, error) {
	store, f, err := s.open()
	if err != nil {
		return nil, f, err
	}
	done := f
	done.Status = results.StatusDone
	if err := store.RequireMatch(ctx, done); err != nil {
		store.Close()
		return nil, f, err
	}
	return store, f, nil
}

// chosen narrows f to the configurations --select-by chooses among the
// finished runs f matches (f itself when --select-by is unset), and says
// why each won, by config hash.
func (s *selection) chosen(ctx context.Context, store *results.Store, f results.Filter, stderr io.Writer) (results.Filter, map[string]string, error) {
	if s.selectBy == "" {
		return f, nil, nil
	}
	done := f
	done.Status = results.StatusDone
	sums, err := store.Summaries(ctx, done)
	if err != nil {
		return f, nil, err
	}
	chosen, why, err := selectBy(sums, s.selectBy, stderr)
	if err != nil {
		return f, nil, err
	}
	hashes := make([]string, len(chosen))
	for i, c := range chosen {
		hashes[i] = c.ConfigHash
	}
	f.ConfigHash = strings.Join(hashes, ",")
	return f, why, nil
}
