package results

import (
	"encoding/json"
	"slices"
	"strings"
)

// SettingsThatDiffer returns, per config hash, the settings (and spec fields
// such as tasks or inference_runs) in which the configurations of the same
// method differ, as "key=value" pairs with this configuration's values.
func SettingsThatDiffer(sums []Summary) map[string]string {
	byMethod := map[string][]Summary{}
	for _, s := range sums {
		byMethod[s.Method] = append(byMethod[s.Method], s)
	}
	out := map[string]string{}
	for _, group := range byMethod {
		fields := make([]map[string]string, len(group))
		keys := map[string]bool{}
		for i, s := range group {
			fields[i] = specFields(s.SpecJSON)
			for k := range fields[i] {
				keys[k] = true
			}
		}
		var differ []string
		for k := range keys {
			for i := range group {
				if fields[i][k] != fields[0][k] {
					differ = append(differ, k)
					break
				}
			}
		}
		slices.Sort(differ)
		for i, s := range group {
			var parts []string
			for _, k := range differ {
				if v, ok := fields[i][k]; ok {
					parts = append(parts, k+"="+v)
				}
			}
			out[s.ConfigHash] = strings.Join(parts, " ")
		}
	}
	return out
}

// specFields flattens a spec's settings and its fields other than the
// method, seed, stream, dataset and scenario (which rows show, or which do
// not split a configuration) into key → JSON value.
func specFields(spec string) map[string]string {
	var raw map[string]json.RawMessage
	if json.Unmarshal([]byte(spec), &raw) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range raw {
		switch k {
		case "method", "seed", "stream", "dataset", "scenario":
		case "settings":
			var set map[string]json.RawMessage
			if json.Unmarshal(v, &set) == nil {
				for sk, sv := range set {
					out[sk] = string(sv)
				}
			}
		default:
			out[k] = string(v)
		}
	}
	return out
}
