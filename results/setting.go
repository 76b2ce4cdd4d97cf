package results

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// A SettingMatch is one condition on a stored run's method settings: the
// setting Key holds one of Values. Values are compared as numbers when
// they read as numbers (so lr=1e-3 matches a stored 0.001), as booleans
// when they are true or false, and as text otherwise. With Method set the
// condition holds for every run of another method: it narrows one rule's
// grid in a table of several rules.
type SettingMatch struct {
	Method string
	Key    string
	Values []string
}

// settingKey is how a --setting key is spelled: a method setting's name,
// after a method's name and a dot when it concerns that method alone.
var settingKey = regexp.MustCompile(`^(?:([a-z][a-z0-9-]*)\.)?([a-z][a-z0-9_]*)$`)

// ParseSettingMatches reads a --setting value: KEY=VALUE pairs separated by
// commas, e.g. "embedding=learned,lr=0.001". Pairs of one key are
// alternatives (any matches); different keys must all hold. A key
// METHOD.KEY ("noprop-dt.embedding=one-hot") holds for the runs of other
// methods. Keys keep the order they first appear in.
func ParseSettingMatches(s string) ([]SettingMatch, error) {
	var out []SettingMatch
	index := map[string]int{}
	for _, pair := range values(s) {
		key, value, ok := strings.Cut(pair, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !ok || value == "" {
			return nil, fmt.Errorf("--setting %q: want KEY=VALUE, e.g. embedding=learned or lr=0.001 (METHOD.KEY=VALUE for one method's runs)", pair)
		}
		parts := settingKey.FindStringSubmatch(key)
		if parts == nil {
			return nil, fmt.Errorf("--setting %q: %q is not a setting name (lower-case letters, digits and _, after METHOD. for one method's runs)", pair, key)
		}
		i, seen := index[key]
		if !seen {
			i = len(out)
			index[key] = i
			out = append(out, SettingMatch{Method: parts[1], Key: parts[2]})
		}
		out[i].Values = append(out[i].Values, value)
	}
	return out, nil
}

// settingArg is a --setting value as the SQL argument compared with the
// stored JSON value: json_extract gives numbers as numbers and booleans as
// 1 or 0.
func settingArg(v string) any {
	switch v {
	case "true":
		return 1
	case "false":
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return v
}

// settingExpr is the SQL expression of a run's setting key, which
// ParseSettingMatches has checked to be a plain name.
func settingExpr(key string) string {
	return "json_extract(spec_json, '$.settings." + key + "')"
}

// sql returns the condition that the run's setting holds one of m's values.
func (m SettingMatch) sql() (string, []any) {
	var alts []string
	var args []any
	if m.Method != "" {
		alts = append(alts, "method != ?")
		args = append(args, m.Method)
	}
	for _, v := range m.Values {
		alts = append(alts, settingExpr(m.Key)+" = ?")
		args = append(args, settingArg(v))
	}
	return "(" + strings.Join(alts, " OR ") + ")", args
}

// String returns m as --setting spells it.
func (m SettingMatch) String() string {
	key := m.Key
	if m.Method != "" {
		key = m.Method + "." + key
	}
	parts := make([]string, len(m.Values))
	for i, v := range m.Values {
		parts[i] = key + "=" + v
	}
	return strings.Join(parts, ",")
}

// SettingsMatch reports whether the method settings of a stored spec hold
// every match, compared as the database compares them (SettingMatch).
func SettingsMatch(specJSON string, matches []SettingMatch) bool {
	if len(matches) == 0 {
		return true
	}
	var spec struct {
		Method   string         `json:"method"`
		Settings map[string]any `json:"settings"`
	}
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		return false
	}
	for _, m := range matches {
		if m.Method != "" && m.Method != spec.Method {
			continue
		}
		stored, ok := spec.Settings[m.Key]
		if !ok || !settingHolds(stored, m.Values) {
			return false
		}
	}
	return true
}

// settingHolds reports whether a decoded JSON value equals one of values.
func settingHolds(stored any, values []string) bool {
	for _, v := range values {
		switch want := settingArg(v).(type) {
		case float64:
			if got, ok := stored.(float64); ok && got == want {
				return true
			}
		case int:
			if got, ok := stored.(bool); ok && got == (want == 1) {
				return true
			}
		case string:
			if got, ok := stored.(string); ok && got == want {
				return true
			}
		}
	}
	return false
}

// requireSettings is RequireMatch's step for f.Setting: it adds f's
// setting matches to prior one key at a time and names the first key no
// run matches, with the values the runs of prior store for it.
func (s *Store) requireSettings(ctx context.Context, f, prior Filter, scope func(Filter) string) (Filter, error) {
	matches, err := ParseSettingMatches(f.Setting)
	if err != nil {
		return prior, err
	}
	var done []string
	for _, m := range matches {
		next := prior
		next.Setting = strings.Join(append(done, m.String()), ",")
		n, err := s.countRuns(ctx, next)
		if err != nil {
			return prior, err
		}
		if n == 0 {
			list, err := s.distinct(ctx, settingExpr(m.Key), prior)
			if err != nil {
				return prior, err
			}
			return prior, fmt.Errorf("no runs with %s; values of setting %s %s: %s", next.String(), m.Key, scope(prior), list)
		}
		done = append(done, m.String())
		prior = next
	}
	return prior, nil
}
