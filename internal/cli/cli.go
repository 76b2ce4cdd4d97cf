// Package cli is the noprop command line: one file per command, each
// parsing its flags and calling the harness, tasks and results packages,
// which hold the logic.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/results"
)

// version is the build's version (the Makefile stamps it through Main);
// empty means the build info's (results.DefaultProgramVersion).
var version = ""

// Main runs the command line with the process's arguments and returns the
// exit status. buildVersion is the version stamped at build time, or "".
func Main(buildVersion string) int {
	version = buildVersion
	ctx, stop := interruptContext(os.Stderr, os.Exit)
	defer stop()
	return execute(ctx, os.Args[1:], nil, os.Stderr)
}

// interruptContext is cancelled by the first SIGINT or SIGTERM, which every
// command obeys at its next check (a run stores what it finished and stops
// as interrupted); a second one exits at once with status 130, for a user
// who will not wait (a killed run resumes from its last checkpoint).
func interruptContext(stderr io.Writer, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			cancel()
		case <-done:
			return
		}
		select {
		case <-sig:
			fmt.Fprintln(stderr, "noprop: interrupted twice: exiting now; a run resumes from its last checkpoint")
			exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}

// execute runs the command line and returns the exit status; a failure is
// one line on stderr. Commands that print through cmd.OutOrStdout write
// to stdout, or to the process's standard output when it is nil.
func execute(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{
		Use:           "noprop",
		Short:         "Train learning rules on continual-learning streams and compare how they forget",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       programVersion(),
	}
	// --version also names the product kernels, which decide bf16 results.
	root.SetVersionTemplate("noprop version {{.Version}} (kernels: " + nn.Kernels() + ")\n")
	// --version has no -v: -v is --verbose where a command has it.
	root.Flags().Bool("version", false, "print the program's version")
	root.AddCommand(runCmd(), planCmd(), tableCmd(), plotCmd(), reportCmd(), exportCmd(), importCmd(), renderCmd(), runsCmd(), mergeCmd(), slurmCmd(), methodsCmd(), dataCmd())
	for _, c := range root.Commands() {
		plainListDefaults(c.Flags())
	}
	root.SetArgs(argv)
	if stdout != nil {
		root.SetOut(stdout)
	}
	root.SetErr(stderr) // notes a command prints beside its output (cmd.ErrOrStderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(stderr, "noprop: %v\n", err)
		return 1
	}
	return 0
}

// programVersion identifies the build for stored runs and --version: the
// version stamped at build time (git describe, which marks a modified
// tree "-dirty"), else the build info's revision ("+dirty" when modified).
func programVersion() string {
	if version != "" {
		return version
	}
	return results.DefaultProgramVersion()
}

// args checks a command's positional arguments: exactly n, or at least n
// when atLeast; what says what they are, in the message.
func args(n int, atLeast bool, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) == n || atLeast && len(a) > n {
			return nil
		}
		return fmt.Errorf("%s: %s (see noprop %s --help)", cmd.Name(), what, cmd.Name())
	}
}

// plainListDefaults writes the defaults of list flags as they are typed,
// "class,task", rather than in Go's list syntax.
func plainListDefaults(fl *pflag.FlagSet) {
	fl.VisitAll(func(f *pflag.Flag) {
		if (strings.HasSuffix(f.Value.Type(), "Slice") || f.Value.Type() == "list") && f.DefValue != "[]" {
			f.DefValue = strings.Trim(f.DefValue, "[]")
		}
	})
}
