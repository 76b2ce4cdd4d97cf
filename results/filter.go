package results

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Filter selects runs. Each text field holds one value or several separated
// by commas, any of which matches; an empty field matches every run. The
// fields are named as the command-line flags of noprop that set them, and
// Dataset, StreamKind and Scenario are matched against the run's stored spec.
type Filter struct {
	// Method is a method name ("backprop") or name:preset
	// ("noprop-dt:quick"), as noprop run spells them; a name without a
	// preset matches every preset of the method (flag --method).
	Method string
	// Dataset is the spec's dataset, e.g. "mnist" (flag --dataset).
	Dataset string
	// StreamKind is the spec's stream kind (split, permuted or joint) or
	// the stream's name as tables show it (split-mnist)
	// (flag --stream).
	StreamKind string
	// Scenario is task, domain or class; "class-il" is read as "class"
	// (flag --scenario).
	Scenario string
	// Strategy is the spec's continual-learning strategy (finetune,
	// replay, cumulative, joint); a spec without one is fine-tuned
	// (flag --strategy).
	Strategy string
	// ConfigHash selects configurations whose hash starts with it; a full
	// hash selects one configuration (flag --config).
	ConfigHash string
	// Setting selects runs by their method settings: KEY=VALUE pairs,
	// comma-separated, where pairs of one key are alternatives and
	// different keys must all hold, e.g. "embedding=learned,lr=0.001"
	// (flag --setting; ParseSettingMatches). A value that does not parse
	// matches nothing: check it with ParseSettingMatches first.
	Setting string
	// Since and Until bound when a run started, both inclusive; the zero
	// time leaves that side open (flags --since and --until).
	Since, Until time.Time
	// Status selects runs in one state. Summaries and MeanMatrix ignore it:
	// they only use done runs.
	Status Status
}

// specPreset is the SQL expression of a run's preset (” when none).
const specPreset = `coalesce(json_extract(spec_json, '$.preset'), '')`

// specStrategy is the SQL expression of a run's strategy; specs stored
// without one were fine-tuned.
const specStrategy = `coalesce(nullif(json_extract(spec_json, '$.strategy'), ''), 'finetune')`

// A filterField is one text field of Filter: how it is matched and how the
// values stored in the database are listed when nothing matches.
type filterField struct {
	flag, plural string
	get          func(*Filter) *string
	// list is the SQL expression of the field's stored value.
	list string
	// cond is the SQL condition and arguments matching one value.
	cond func(v string) (string, []any)
}

func equals(expr string) func(string) (string, []any) {
	return func(v string) (string, []any) { return expr + " = ?", []any{v} }
}

// filterFields are Filter's text fields in the order of its flags.
var filterFields = []filterField{
	{
		flag: "method", plural: "methods",
		get:  func(f *Filter) *string { return &f.Method },
		list: "method || CASE WHEN " + specPreset + " = '' THEN '' ELSE ':' || " + specPreset + " END",
		cond: func(v string) (string, []any) {
			name, preset, ok := strings.Cut(v, ":")
			if !ok {
				return "method = ?", []any{name}
			}
			return "(method = ? AND " + specPreset + " = ?)", []any{name, preset}
		},
	},
	{
		flag: "dataset", plural: "datasets",
		get:  func(f *Filter) *string { return &f.Dataset },
		list: "json_extract(spec_json, '$.dataset')",
		cond: equals("json_extract(spec_json, '$.dataset')"),
	},
	{
		flag: "stream", plural: "streams",
		get:  func(f *Filter) *string { return &f.StreamKind },
		list: "stream",
		// A stream kind (split) or a stream as tables name it (split-mnist).
		cond: func(v string) (string, []any) {
			return "(json_extract(spec_json, '$.stream') = ? OR stream = ?)", []any{v, v}
		},
	},
	{
		flag: "scenario", plural: "scenarios",
		get:  func(f *Filter) *string { return &f.Scenario },
		list: "scenario",
		cond: func(v string) (string, []any) { return "scenario = ?", []any{strings.TrimSuffix(v, "-il")} },
	},
	{
		flag: "strategy", plural: "strategies",
		get:  func(f *Filter) *string { return &f.Strategy },
		list: specStrategy,
		cond: equals(specStrategy),
	},
	{
		flag: "config", plural: "config hashes",
		get:  func(f *Filter) *string { return &f.ConfigHash },
		list: "config_hash",
		cond: func(v string) (string, []any) { return "substr(config_hash, 1, length(?)) = ?", []any{v, v} },
	},
}

// values splits a field's comma-separated values.
func values(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// where returns the SQL condition and arguments for f.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	for _, fld := range filterFields {
		vs := values(*fld.get(&f))
		if len(vs) == 0 {
			continue
		}
		var alts []string
		for _, v := range vs {
			c, a := fld.cond(v)
			alts = append(alts, c)
			args = append(args, a...)
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	if f.Setting != "" {
		matches, err := ParseSettingMatches(f.Setting)
		if err != nil {
			conds = append(conds, "0")
		}
		for _, m := range matches {
			c, a := m.sql()
			conds = append(conds, c)
			args = append(args, a...)
		}
	}
	if !f.Since.IsZero() {
		conds = append(conds, "started_at >= ?")
		args = append(args, formatTime(f.Since))
	}
	if !f.Until.IsZero() {
		conds = append(conds, "started_at <= ?")
		args = append(args, formatTime(f.Until))
	}
	if f.Status != "" {
		conds = append(conds, "status = ?")
		args = append(args, string(f.Status))
	}
	if len(conds) == 0 {
		return "1", nil
	}
	return strings.Join(conds, " AND "), args
}

// String returns the filter as noprop's command-line flags, e.g.
// "--method backprop --dataset mnist"; Status is left out. It is "" for the
// empty filter.
func (f Filter) String() string {
	var parts []string
	for _, fld := range filterFields {
		if vs := values(*fld.get(&f)); len(vs) > 0 {
			parts = append(parts, "--"+fld.flag+" "+strings.Join(vs, ","))
		}
	}
	if f.Setting != "" {
		parts = append(parts, "--setting "+f.Setting)
	}
	if !f.Since.IsZero() {
		parts = append(parts, "--since "+formatBound(f.Since))
	}
	if !f.Until.IsZero() {
		parts = append(parts, "--until "+formatBound(f.Until))
	}
	return strings.Join(parts, " ")
}

// Layouts ParseTimeBound accepts; a time without a zone is local.
var boundLayouts = []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"}

// endOfDay is the last stored instant of a day: start times are stored in
// milliseconds.
const endOfDay = 24*time.Hour - time.Millisecond

// ParseTimeBound reads a --since or --until value: a date (2006-01-02) or a
// time (2006-01-02T15:04, 2006-01-02T15:04:05 or RFC 3339), local unless it
// names a zone. A date as an upper bound (end true) means the end of that
// day, so "--since D --until D" selects the runs started on day D.
func ParseTimeBound(s string, end bool) (time.Time, error) {
	for _, layout := range boundLayouts {
		t, err := time.ParseInLocation(layout, s, time.Local)
		if err != nil {
			continue
		}
		if end && layout == "2006-01-02" {
			t = t.Add(endOfDay)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date (2006-01-02) or a time (2006-01-02T15:04, RFC 3339)", s)
}

// formatBound prints a time bound the way ParseTimeBound reads it back.
func formatBound(t time.Time) string {
	t = t.Local()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
	if t.Equal(day) || t.Equal(day.Add(endOfDay)) {
		return day.Format("2006-01-02")
	}
	return t.Format(time.RFC3339)
}

// countRuns returns how many runs match f.
func (s *Store) countRuns(ctx context.Context, f Filter) (int, error) {
	where, args := f.where()
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM runs WHERE "+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count runs: %w", err)
	}
	return n, nil
}

// maxListed is how many stored values a no-match message names.
const maxListed = 12

// distinct returns the distinct values of the SQL expression expr over the
// runs matching f, sorted, as one comma-separated list.
func (s *Store) distinct(ctx context.Context, expr string, f Filter) (string, error) {
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx,
		"SELECT DISTINCT coalesce("+expr+", '(none)') AS v FROM runs WHERE "+where+" ORDER BY v", args...)
	if err != nil {
		return "", fmt.Errorf("list stored values: %w", err)
	}
	defer rows.Close()
	var vs []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return "", fmt.Errorf("list stored values: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("list stored values: %w", err)
	}
	if len(vs) > maxListed {
		vs = append(vs[:maxListed], fmt.Sprintf("and %d more", len(vs)-maxListed))
	}
	return strings.Join(vs, ", "), nil
}

// RequireMatch returns nil when at least one run matches f, and otherwise
// an error of one line that names the first filter value that excludes
// every run and the values that exist instead, e.g. "no runs with --method
// ff; methods in results.db: backprop, noprop-dt". Fields are tried in the
// order of Filter's flags, each together with the ones before it.
func (s *Store) RequireMatch(ctx context.Context, f Filter) error {
	name := filepath.Base(s.path)
	total, err := s.countRuns(ctx, Filter{})
	if err != nil {
		return err
	}
	if total == 0 {
		return fmt.Errorf("%s holds no runs yet; store some with `noprop run`", s.path)
	}
	// scope names the runs the listed values come from.
	scope := func(prior Filter) string {
		if p := prior.String(); p != "" {
			return "of the runs with " + p + " in " + name
		}
		return "in " + name
	}
	var prior Filter
	for _, fld := range filterFields {
		v := *fld.get(&f)
		if len(values(v)) == 0 {
			continue
		}
		next := prior
		*fld.get(&next) = v
		n, err := s.countRuns(ctx, next)
		if err != nil {
			return err
		}
		if n == 0 {
			list, err := s.distinct(ctx, fld.list, prior)
			if err != nil {
				return err
			}
			return fmt.Errorf("no runs with %s; %s %s: %s", next.String(), fld.plural, scope(prior), list)
		}
		prior = next
	}
	if prior, err = s.requireSettings(ctx, f, prior, scope); err != nil {
		return err
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		next := prior
		next.Since, next.Until = f.Since, f.Until
		n, err := s.countRuns(ctx, next)
		if err != nil {
			return err
		}
		if n == 0 {
			where, args := prior.where()
			var first, last string
			if err := s.db.QueryRowContext(ctx,
				"SELECT min(started_at), max(started_at) FROM runs WHERE "+where, args...).Scan(&first, &last); err != nil {
				return fmt.Errorf("list start times: %w", err)
			}
			return fmt.Errorf("no runs with %s; the runs %s started from %s to %s",
				next.String(), strings.TrimPrefix(scope(prior), "of the runs "), localTime(first), localTime(last))
		}
		prior = next
	}
	if f.Status != "" {
		next := prior
		next.Status = f.Status
		n, err := s.countRuns(ctx, next)
		if err != nil {
			return err
		}
		if n == 0 {
			list, err := s.statusCounts(ctx, prior)
			if err != nil {
				return err
			}
			what := "runs"
			if p := prior.String(); p != "" {
				what = "runs with " + p
			}
			return fmt.Errorf("no %s %s in %s: %s", f.Status, what, name, list)
		}
	}
	return nil
}

// statusCounts describes how many runs matching f are in each state, e.g.
// "2 running, 1 failed".
func (s *Store) statusCounts(ctx context.Context, f Filter) (string, error) {
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx,
		"SELECT status, count(*) FROM runs WHERE "+where+" GROUP BY status ORDER BY status", args...)
	if err != nil {
		return "", fmt.Errorf("count runs by status: %w", err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return "", fmt.Errorf("count runs by status: %w", err)
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("count runs by status: %w", err)
	}
	return strings.Join(parts, ", "), nil
}

// localTime prints a stored time in the local zone, to the minute.
func localTime(stored string) string {
	t, err := parseTime(stored)
	if err != nil {
		return stored
	}
	return t.Local().Format("2006-01-02 15:04")
}
