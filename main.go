// Command noprop is an experiment harness for learning rules that do without
// end-to-end back-propagation, and for how they forget: it trains methods on
// continual-learning task streams, stores every run's accuracy matrix and
// forgetting metrics in SQLite, and prints comparison tables.
//
// Usage:
//
//	noprop run --method backprop,noprop-dt --dataset mnist --stream split --scenario class,task --seeds 3
//	noprop table
//	noprop runs --status running
//	noprop merge all.db node1.db node2.db
//	noprop methods
//	noprop data fetch mnist
//
// The commands live in internal/cli; the logic in the harness, tasks,
// methods and results packages.
package main

import (
	"os"

	"github.com/noprop/noprop/internal/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() { os.Exit(cli.Main(version)) }
