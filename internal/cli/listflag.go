package cli

import (
	"strings"

	"github.com/spf13/pflag"
)

// listValue is a comma-separated list flag: names split at commas, spaces
// around them dropped, empty items ignored; repeating the flag adds to the
// list. Unlike pflag's string slices it reads no CSV quoting, so a quote in
// a name reaches the check that names what is wrong with it.
type listValue struct {
	p       *[]string
	changed bool
}

func (v *listValue) Set(s string) error {
	if !v.changed {
		*v.p = nil
		v.changed = true
	}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*v.p = append(*v.p, item)
		}
	}
	return nil
}

func (v *listValue) Type() string { return "list" }

func (v *listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

// listVarP registers a list flag holding def until it is given.
func listVarP(fl *pflag.FlagSet, p *[]string, name, short string, def []string, usage string) {
	*p = def
	fl.VarP(&listValue{p: p}, name, short, usage)
}
