// Package catalog is the visible table of every learning rule the harness can
// run. Adding a method means adding one line here; the conformance suite
// (catalog_test.go, methods/methodtest) then checks it.
package catalog

import (
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/backprop"
	"github.com/noprop/noprop/methods/dtp"
	"github.com/noprop/noprop/methods/forwardforward"
	"github.com/noprop/noprop/methods/forwardgrad"
	"github.com/noprop/noprop/methods/noprop"
)

// All lists the methods in the order the command line shows them.
var All = methods.Catalog{
	backprop.Method,
	noprop.DTMethod,
	noprop.BackpropDTMethod,
	noprop.CTMethod,
	noprop.FMMethod,
	noprop.AdjointMethod,
	forwardforward.Method,
	dtp.Method,
	forwardgrad.FGWMethod,
	forwardgrad.FGAMethod,
	forwardgrad.LGFGWMethod,
	forwardgrad.LGFGAMethod,
}
