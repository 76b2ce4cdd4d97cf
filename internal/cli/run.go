package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/observe"
	"github.com/noprop/noprop/harness/shard"
	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/methods"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/results/table"
	"github.com/noprop/noprop/tasks"
)

// runFlags are run's flags: the study (over harness.DefaultSweep) and how
// to run it.
type runFlags struct {
	study     harness.Sweep
	methods   []string
	preset    string
	sets      []string
	db        string
	data      string
	verbose   bool
	rerun     bool
	sweep     string
	shard     string
	stale     time.Duration
	ckptEvery time.Duration
	journal   string
	doneIn    []string
	profile   profiles
	replay    replayFlags
}

// replayFlags are the replay strategy's flags, read into the study's
// harness.Replay only when given (harness.ReplayGiven), so that a study
// without replay refuses them instead of ignoring them.
type replayFlags struct {
	policy, weighting string
	perClass, size    int
	ratio             float64
}

// given is the replay flags set on the command line.
func (r *replayFlags) given(fl *pflag.FlagSet) harness.ReplayGiven {
	var g harness.ReplayGiven
	if fl.Changed("replay-policy") {
		g.Policy = &r.policy
	}
	if fl.Changed("replay-per-class") {
		g.PerClass = &r.perClass
	}
	if fl.Changed("replay-size") {
		g.Size = &r.size
	}
	if fl.Changed("replay-ratio") {
		g.Ratio = &r.ratio
	}
	if fl.Changed("replay-weighting") {
		g.Weighting = &r.weighting
	}
	return g
}

// replayVars registers the replay flags, their defaults harness.DefaultReplay.
func replayVars(fl *pflag.FlagSet, r *replayFlags) {
	d := harness.DefaultReplay()
	fl.StringVar(&r.policy, "replay-policy", d.Policy, "strategy replay's memory: class-balanced (--replay-per-class of each class of each task) or reservoir (--replay-size in all, reservoir sampling)")
	fl.IntVar(&r.perClass, "replay-per-class", d.PerClass, "class-balanced replay: examples kept per class of each task (1 to 100000)")
	fl.IntVar(&r.size, "replay-size", d.Size, "reservoir replay: examples kept in all (1 to 10^7)")
	fl.Float64Var(&r.ratio, "replay-ratio", d.Ratio, "replay: examples drawn from the memory per current example in each task's training set, in (0, 100]")
	fl.StringVar(&r.weighting, "replay-weighting", d.Weighting, "replay: the loss's weighting, task (at the t-th task, current examples 1/t and replayed 1 − 1/t, van de Ven & Tolias) or equal (every example alike)")
}

func runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Train methods on a task stream and store the results",
		Long: `Run trains every chosen method on the stream once per scenario and seed,
evaluating every task after every task, and stores each run in the results
database. Every method, setting, dataset and stream is checked before any
data is loaded or the database is touched. Runs already finished with the
same configuration and seed are skipped, so an interrupted batch resumes when
started again (--rerun forces them). Rules with stochastic inference (NoProp)
are evaluated --inference-runs times per trained model and the stored
accuracy is the mean (each inference run's accuracies are kept too). At the
end it prints the mean accuracy matrices and the summary table of the
configurations it ran.`,
		Example: `  noprop run                                   # backprop on split MNIST, class- and task-IL
  noprop run --method noprop-dt --preset quick --seeds 3
  noprop run --method backprop,noprop-dt:quick --set noprop-dt.epochs=2
  noprop run --method backprop --set iterations=500 --set hidden=[256,256]
  noprop run --method noprop-dt --stream joint --set epochs=10 --scenario class`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.sweep != "" {
				for _, name := range studyFlags {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s with --sweep: the sweep file says what to run; give one or the other", name)
					}
				}
			}
			var err error
			if f.study.Replay, err = f.replay.given(cmd.Flags()).Settings(); err != nil {
				return err
			}
			return runRun(cmd.Context(), f)
		},
	}
	f.study = harness.DefaultSweep()
	st := &f.study
	fl := cmd.Flags()
	listVarP(fl, &f.methods, "method", "m", []string{"backprop"}, "methods to run, comma-separated, each as name or name:preset (see: noprop methods)")
	fl.StringVar(&f.preset, "preset", "", "settings preset for methods named without one (e.g. quick, paper)")
	fl.StringArrayVar(&f.sets, "set", nil, "override a setting: key=value for every method, method.key=value for one (value as JSON, else a string); repeatable")
	listVarP(fl, &st.Datasets, "dataset", "d", st.Datasets, "datasets, comma-separated: "+strings.Join(tasks.DatasetNames(), ", ")+", or folder:PATH (an image folder)")
	listVarP(fl, &st.Streams, "stream", "", st.Streams, "stream kinds, comma-separated: split, permuted or joint")
	fl.IntVar(&st.Tasks, "tasks", st.Tasks, "number of tasks (split: classes are divided evenly); 0: 5 for split, 10 for permuted")
	fl.StringVar(&st.ClassOrder, "class-order", st.ClassOrder, "split streams: fixed (0,1 | 2,3 | ...) or seeded")
	listVarP(fl, &st.Scenarios, "scenario", "", st.Scenarios, "scenarios, comma-separated: task, domain, class")
	fl.IntVar(&st.Seeds, "seeds", st.Seeds, "number of seeds")
	fl.Uint64Var(&st.FirstSeed, "seed", st.FirstSeed, "first seed; seeds are seed, seed+1, ...")
	fl.IntVar(&st.InferenceRuns, "inference-runs", st.InferenceRuns, "inference runs per trained model for rules with stochastic inference (the NoProp paper's 5)")
	fl.IntVar(&st.TestEvery, "test-every", st.TestEvery, "learning curve: score the task being learned on its test set after every N-th epoch, into the training log (noprop export --what epochs); 0: none")
	fl.BoolVar(&st.Probe, "probe", false, "after every task, score each stage of the model (NoProp-DT's blocks as denoisers and along the chain, its head; backprop-dt's blocks) on every task's test set: where forgetting happens (noprop export --what probe, noprop plot probe)")
	fl.StringVar(&st.CurveOn, "curve-on", harness.CurveOnTest, "the set the learning curve (--test-every) scores: test, or val (the validation set of --validation, so that a budget chosen by the curve never sees the test set)")
	fl.StringVar(&st.Pixels, "pixels", st.Pixels, "input pixels: raw (as the dataset gives them, [0,1]) or standard (each channel to mean 0, std 1 by the first task's training statistics), the same for every method")
	fl.StringVar(&st.Permuted, "permuted", st.Permuted, "permuted streams' construction: padded (van de Ven & Tolias: each image centred on 32x32 zeros, then its 1024 pixels permuted) or plain (the image's own pixels permuted, as runs stored before this choice)")
	listVarP(fl, &st.Strategies, "strategy", "", st.Strategies, "strategies, comma-separated: finetune (each task alone, in turn), cumulative (at task t the union of tasks 1..t) or joint (every task at once, trained once), the bounds of continual learning; or replay (task t's set plus examples drawn from a memory of earlier tasks) (docs/usage.md)")
	replayVars(fl, &f.replay)
	fl.Float64Var(&st.Validation, "validation", st.Validation, "hold out this fraction (in [0, 0.5)) of each task's training data, per class, as a validation set no method trains on; its accuracy is the metric val_acc (noprop table --select-by val-acc)")
	fl.IntVar(&st.MaxRuns, "max-runs", harness.DefaultMaxRuns, "refuse a batch of more runs than this, before it is listed")
	fl.StringVar(&f.db, "db", "results.db", "results database (SQLite)")
	fl.StringVar(&f.data, "data", "", "data folder holding <dataset>/ files (default: $NOPROP_DATA, then the standard places)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "print every training epoch")
	fl.BoolVar(&f.rerun, "rerun", false, "run again configurations already finished in the database")
	fl.StringVar(&f.sweep, "sweep", "", "run the study a sweep file describes (YAML; its format: noprop plan --help) instead of the flags above")
	fl.StringVar(&f.shard, "shard", "", "run only shard i/n of the batch (i from 0): a stable slice by configuration and seed, for job arrays")
	fl.DurationVar(&f.stale, "stale", results.DefaultStaleAfter, "heartbeat age after which another process's claim on a run counts as gone and the run is taken over")
	fl.DurationVar(&f.ckptEvery, "checkpoint-every", 5*time.Minute, "save each run's whole state this often during a task (always after each task), in DB.ckpt/, so a killed run goes on from there; 0: only between tasks")
	fl.StringVar(&f.journal, "journal", "", journalUsage)
	fl.StringVar(&f.profile.cpu, "cpuprofile", "", "write a CPU profile of the batch to this file (go tool pprof)")
	fl.StringVar(&f.profile.mem, "memprofile", "", "write the batch's allocation profile to this file at the end (go tool pprof; -sample_index=alloc_space for what was allocated)")
	fl.StringArrayVar(&f.doneIn, "done-in", nil, "also skip the runs done in this database (read only; e.g. the merged study of a job array); repeatable")
	return cmd
}

// studyFlags are the run flags a sweep file replaces.
var studyFlags = []string{"method", "preset", "set", "dataset", "stream", "tasks", "class-order", "scenario", "seeds", "seed", "inference-runs", "test-every", "curve-on", "probe", "pixels", "permuted", "strategy", "replay-policy", "replay-per-class", "replay-size", "replay-ratio", "validation", "max-runs"}

// splitMethod reads "name" or "name:preset".
func splitMethod(arg, defaultPreset string) (name, preset string) {
	name, preset, ok := strings.Cut(arg, ":")
	if !ok {
		preset = defaultPreset
	}
	return name, preset
}

// specs expands the flags (or the sweep file) into the batch's runs,
// checking all of it, and keeps those of --shard.
func (f runFlags) specs(ctx context.Context) ([]harness.Spec, error) {
	var specs []harness.Spec
	var err error
	if f.sweep != "" {
		specs, err = harness.ReadSweepFile(ctx, f.sweep, catalog.All, nil)
	} else {
		specs, err = f.flagSpecs()
	}
	if err != nil || f.shard == "" {
		return specs, err
	}
	sh, err := shard.Parse(f.shard)
	if err != nil {
		return nil, fmt.Errorf("--shard %w", err)
	}
	return shard.Select(sh, specs, func(s harness.Spec) (string, uint64) { return s.ConfigHash(), s.Seed }), nil
}

// flagSpecs expands the study the flags describe.
func (f runFlags) flagSpecs() ([]harness.Spec, error) {
	sw := f.study
	var names []string
	for _, arg := range f.methods {
		name, preset := splitMethod(arg, f.preset)
		names = append(names, name)
		sw.Methods = append(sw.Methods, harness.MethodChoice{Name: name, Preset: preset})
	}
	overrides, err := harness.ParseSets(f.sets, names)
	if err != nil {
		return nil, err
	}
	for i := range sw.Methods {
		sw.Methods[i].Settings = overrides[sw.Methods[i].Name]
	}
	specs, err := sw.Expand(catalog.All, nil)
	if err != nil && len(f.methods) > 1 && strings.Contains(err.Error(), "unknown setting") &&
		slices.ContainsFunc(f.sets, func(s string) bool { k, _, _ := strings.Cut(s, "="); return !strings.Contains(k, ".") }) {
		return nil, fmt.Errorf("%w; a --set without a method prefix applies to every method: write method.key=value for one", err)
	}
	return specs, err
}

func runRun(ctx context.Context, f runFlags) error {
	journal, err := f.check()
	if err != nil {
		return err
	}
	specs, err := f.specs(ctx)
	if err != nil {
		return err
	}
	notePrecision(os.Stderr, specs, nn.BF16Available())
	// The data is found, read and cut into streams, and the checkpoint
	// folder checked, before the database is created.
	if err := harness.LocateData(specs, f.data); err != nil {
		return err
	}
	rn := &harness.Runner{
		Methods:         catalog.All,
		Load:            func(name string) (tasks.Dataset, error) { return tasks.Load(name, f.data) },
		Checkpoints:     checkpointDir(f.db),
		CheckpointEvery: f.ckptEvery,
	}
	if err := results.CheckWritable(f.db); err != nil {
		return err
	}
	if err := rn.Preload(ctx, specs); err != nil {
		return err
	}
	if err := checkFolder(rn.Checkpoints, "checkpoint folder"); err != nil {
		return err
	}
	stop, err := f.profile.start()
	if err != nil {
		return err
	}
	defer stop()
	others, err := openAll(f.doneIn)
	defer closeAll(others)
	if err != nil {
		return fmt.Errorf("--done-in: %w", err)
	}
	store, err := results.OpenJournal(f.db, journal)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := rehash(ctx, store); err != nil {
		return err
	}
	if f.rerun {
		if err := requestRerun(ctx, store, specs); err != nil {
			return err
		}
	}
	display, out, wait := newDisplay(f.verbose)
	rn.Gate = &observe.StoreGate{Store: store, Version: programVersion(), Kernels: nn.Kernels(), StaleAfter: f.stale, Log: out}
	rn.Observers = []harness.RunObserver{&observe.Recorder{Store: store}, display}
	rn.Log = out
	rep, runErr := rn.RunAll(ctx, specs, skipDone(ctx, store, others, f.stale, out))
	wait()
	fmt.Printf("\n%d run(s) finished, %d skipped as already done, %d skipped as held by another live process, %d failed, %d interrupted; results in %s\n",
		rep.Ran, rep.Skipped, rep.Held, rep.Failed, rep.Interrupted, f.db)
	if err := printConfigs(ctx, store, specs); err != nil && runErr == nil {
		runErr = err
	}
	if errors.Is(runErr, context.Canceled) {
		return fmt.Errorf("interrupted; finished runs are stored, run the same command again to resume")
	}
	return runErr
}

// check refuses bad flag values before anything is read, and returns the
// journal asked for.
func (f runFlags) check() (results.Journal, error) {
	switch {
	case results.CheckStaleAfter(f.stale) != nil:
		return 0, results.CheckStaleAfter(f.stale)
	case f.ckptEvery < 0:
		return 0, fmt.Errorf("--checkpoint-every %s: want a duration of 0 or more", f.ckptEvery)
	case f.rerun && len(f.doneIn) > 0:
		return 0, fmt.Errorf("--rerun with --done-in: a rerun trains units again although they are done; give one or the other")
	}
	if a, b, twice := namedTwice(append([]string{f.db}, f.doneIn...)); twice {
		if a == f.db {
			return 0, fmt.Errorf("--done-in %s is the --db database itself, whose done runs are skipped anyway; leave it out", b)
		}
		return 0, fmt.Errorf("--done-in %s and %s are one database; name it once", a, b)
	}
	return parseJournal(f.journal)
}

// openAll opens the databases at paths for reading; on an error, those
// opened are returned too, for the caller to close.
func openAll(paths []string) ([]*results.Store, error) {
	var out []*results.Store
	for _, p := range paths {
		s, err := results.OpenInput(p)
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func closeAll(stores []*results.Store) {
	for _, s := range stores {
		s.Close()
	}
}

// requestRerun stores the intent to train the specs' units again, so that
// this command, interrupted and started again, resumes the rerun instead of
// starting it over.
func requestRerun(ctx context.Context, store *results.Store, specs []harness.Spec) error {
	units := make([]results.Unit, len(specs))
	for i, s := range specs {
		units[i] = results.Unit{ConfigHash: s.ConfigHash(), Seed: s.Seed}
	}
	rr, err := store.RequestRerun(ctx, units)
	if err != nil {
		return err
	}
	if rr.Resumed {
		fmt.Printf("resuming the interrupted rerun: %d of %d run(s) left\n", rr.Pending, rr.Units)
	}
	return nil
}

// newDisplay is the progress display: live bars on a terminal, plain lines
// in logs and CI. out is where other messages go; wait ends the display.
func newDisplay(verbose bool) (display harness.RunObserver, out io.Writer, wait func()) {
	if isatty.IsTerminal(os.Stdout.Fd()) {
		live := observe.NewLive(os.Stdout, verbose)
		return live, live.Writer(), live.Wait
	}
	return &observe.Lines{W: os.Stdout, Epochs: verbose}, os.Stdout, func() {}
}

// skipDone tells the runner which units are done (in store or in others)
// before their data is touched; whether a unit is held is the gate's to
// say when the run starts.
func skipDone(ctx context.Context, store *results.Store, others []*results.Store, stale time.Duration, out io.Writer) func(harness.Spec) (bool, error) {
	return func(s harness.Spec) (bool, error) {
		st, err := results.UnitStates(ctx, store, others, []results.Unit{{ConfigHash: s.ConfigHash(), Seed: s.Seed}}, stale)
		if err != nil {
			return false, err
		}
		switch st[0].Status {
		case results.Done:
			fmt.Fprintf(out, "== %s: already done (run %s), skipped\n", s.Label(), st[0].RunID[:8])
			return true, nil
		case results.DoneElsewhere:
			fmt.Fprintf(out, "== %s: already done in %s (run %s), skipped\n", s.Label(), st[0].Where, st[0].RunID[:8])
			return true, nil
		}
		return false, nil
	}
}

// printConfigs prints the mean accuracy matrix of each configuration in specs
// and one summary table of them all.
func printConfigs(ctx context.Context, store *results.Store, specs []harness.Spec) error {
	var sums []results.Summary
	seen := map[string]bool{}
	for _, s := range specs {
		h := s.ConfigHash()
		if seen[h] {
			continue
		}
		seen[h] = true
		got, err := store.Summaries(ctx, results.Filter{ConfigHash: h})
		if err != nil {
			return err
		}
		if len(got) == 0 {
			continue
		}
		mean, se, n, err := store.MeanMatrix(ctx, h)
		if err != nil {
			return err
		}
		fmt.Println()
		title := fmt.Sprintf("%s on %s, %s: accuracy (%%) on each task (columns) after each task (rows), mean over %d seed(s)", s.MethodName(), got[0].Stream, s.Scenario, n)
		if err := table.WriteMatrix(os.Stdout, table.Text, title, mean, se); err != nil {
			return err
		}
		sums = append(sums, got...)
	}
	if len(sums) == 0 {
		return nil
	}
	fmt.Println()
	return table.Write(os.Stdout, sums, table.Options{Metrics: summaryMetrics})
}

// profiles are the profiles --cpuprofile and --memprofile ask for.
type profiles struct{ cpu, mem string }

// start checks where the profiles go, starts the CPU profile and arranges
// for the allocation profile to be written; the returned function stops
// them and writes both, by the rule of package outfile (a file replaced
// whole, a FIFO or device written in place, a symbolic link's target
// written, missing folders created). The CPU profile is kept in memory
// until then, so a run that is killed leaves no half-written profile.
func (p profiles) start() (stop func(), err error) {
	for _, o := range []struct{ flag, path string }{{"--cpuprofile", p.cpu}, {"--memprofile", p.mem}} {
		if o.path == "" {
			continue
		}
		if err := outfile.Check(o.path); err != nil {
			return nil, fmt.Errorf("%s: %w", o.flag, err)
		}
	}
	var cpu *bytes.Buffer
	if p.cpu != "" {
		cpu = new(bytes.Buffer)
		if err := pprof.StartCPUProfile(cpu); err != nil {
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	return func() {
		if cpu != nil {
			pprof.StopCPUProfile() // returns once the profile is in cpu
			if err := outfile.Write(p.cpu, 0o644, func(w io.Writer) error {
				_, err := w.Write(cpu.Bytes())
				return err
			}); err != nil {
				fmt.Fprintf(os.Stderr, "noprop: --cpuprofile: %v\n", err)
			}
		}
		if p.mem != "" {
			if err := outfile.Write(p.mem, 0o644, func(w io.Writer) error {
				return pprof.Lookup("allocs").WriteTo(w, 0)
			}); err != nil {
				fmt.Fprintf(os.Stderr, "noprop: --memprofile: %v\n", err)
			}
		}
	}, nil
}

// checkFolder refuses a path that exists and is not a folder this user can
// write; a missing one is created when it is first needed.
func checkFolder(path, what string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, path, err)
	case !st.IsDir():
		return fmt.Errorf("%s %s is not a folder: move it aside, runs keep their checkpoints there", what, path)
	}
	if err := unix.Access(path, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s %s is not writable for this user (%v): make it writable, runs keep their checkpoints there", what, path, err)
	}
	return nil
}

// notePrecision says, once, when runs ask for bf16 products on a CPU that
// multiplies them in fp32 (bf16 is false; their results are then those of
// fp32).
func notePrecision(w io.Writer, specs []harness.Spec, bf16 bool) {
	if bf16 {
		return
	}
	for _, s := range specs {
		var set struct {
			Precision string `json:"precision"`
		}
		if json.Unmarshal(s.Settings, &set) == nil && set.Precision == methods.PrecisionBF16 {
			fmt.Fprintln(w, "noprop: note: precision bf16 asked for, but this CPU has no AVX512_BF16: products run in fp32")
			return
		}
	}
}
