// Package catalog is the visible table of every learning rule the harness can
// run. Adding a method means adding one line here.
package catalog

import (
	"fmt"
	"slices"

	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/methods/noprop"
)

// All lists the methods in the order the command line shows them.
var All = []methods.Method{
	backprop.Method,
	noprop.Method,
	noprop.BackpropDTMethod,
}

// Names lists the methods' names.
func Names() []string {
	var names []string
	for _, m := range All {
		names = append(names, m.Name)
	}
	return names
}

// Lookup finds a method by name.
func Lookup(name string) (methods.Method, error) {
	i := slices.IndexFunc(All, func(m methods.Method) bool { return m.Name == name })
	if i < 0 {
		return methods.Method{}, fmt.Errorf("unknown method %q (known: %v; see `noprop methods`)", name, Names())
	}
	return All[i], nil
}
