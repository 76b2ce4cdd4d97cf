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
// The command line only wires flags to the harness, tasks and results
// packages; it holds no logic of its own.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line and returns the exit status; a failure is
// one line on stderr.
func execute(ctx context.Context, args []string, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "noprop",
		Short:         "Train learning rules on continual-learning streams and compare how they forget",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       programVersion(),
	}
	root.AddCommand(runCmd(), planCmd(), tableCmd(), plotCmd(), reportCmd(), exportCmd(), runsCmd(), mergeCmd(), slurmCmd(), methodsCmd(), dataCmd())
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "noprop: %v\n", err)
		return 1
	}
	return 0
}
