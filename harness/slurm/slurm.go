// Package slurm turns a sweep file into a Slurm job array and the job that
// merges its results: it splits the sweep's runs into stable shards (by
// configuration and seed, package harness/shard), reads what the study folder's
// databases already hold (results.UnitStates), writes the two job scripts
// from its embedded templates, and submits only the shards with runs
// left, with the merge job after them.
package slurm

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/shard"
	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/results"
)

// Options are the choices of a job array, as noprop slurm's flags give
// them.
type Options struct {
	Shards     int
	Out        string // study folder; "" is the sweep file's path without its extension
	Partition  string
	Time       string
	CPUs       int
	Mem        string
	MaxRunning int
	Sbatch     []string // more sbatch options for both jobs
	Data       string
	Stale      time.Duration
	Noprop     string // the program the jobs run; "" is this one
}

// DefaultCPUs is the CPUs of each array task unless Options says otherwise.
const DefaultCPUs = 2

var (
	slurmTime      = regexp.MustCompile(`^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2}|UNLIMITED|INFINITE)$`)
	slurmMem       = regexp.MustCompile(`^\d+[KMGT]?$`)
	slurmPartition = regexp.MustCompile(`^[A-Za-z0-9_.,-]+$`)
)

// managedSbatch are the sbatch options the scripts set themselves.
var managedSbatch = []string{"--array", "--output", "--error", "--dependency", "--job-name", "--cpus-per-task", "--mem", "--time", "--partition"}

// Check refuses bad options with one line each, before anything is read.
func (o Options) Check() error {
	switch {
	case o.Shards < 1:
		return fmt.Errorf("--shards %d: need at least 1", o.Shards)
	case o.CPUs < 1:
		return fmt.Errorf("--cpus %d: need at least 1", o.CPUs)
	case o.MaxRunning < 0:
		return fmt.Errorf("--max-running %d: want 0 (no limit) or more", o.MaxRunning)
	case o.Time != "" && !slurmTime.MatchString(o.Time):
		return fmt.Errorf("--time %q: want Slurm's format, e.g. 90 (minutes), 4:00:00, 2-00 (days-hours) or 1-12:00:00", o.Time)
	case o.Mem != "" && !slurmMem.MatchString(o.Mem):
		return fmt.Errorf("--mem %q: want a size with one of Slurm's units K, M, G, T, e.g. 4G or 4000M", o.Mem)
	case o.Partition != "" && !slurmPartition.MatchString(o.Partition):
		return fmt.Errorf("--partition %q: want a partition name (letters, digits, _ . -; several comma-separated)", o.Partition)
	case results.CheckStaleAfter(o.Stale) != nil:
		return results.CheckStaleAfter(o.Stale)
	}
	for _, s := range o.Sbatch {
		name, _, _ := strings.Cut(s, "=")
		switch {
		case !strings.HasPrefix(s, "--") || len(s) < 3 || strings.ContainsAny(s, " \t\r\n"):
			return fmt.Errorf("--sbatch %q: want one long sbatch option without spaces, e.g. --sbatch=--qos=long", s)
		case slices.Contains(managedSbatch, name):
			return fmt.Errorf("--sbatch %q: the scripts set %s themselves; use the flag of noprop slurm for it (see --help)", s, name)
		}
	}
	return nil
}

// Job is what the two scripts are written from.
type Job struct {
	Name, Dir, Noprop, Sweep string
	Shards, MaxRunning, CPUs int
	Time, Mem, Partition     string
	Sbatch                   []string
	Data                     string
	Stale                    time.Duration
	Resubmit                 string
}

// ArrayRange is the --array value of every shard.
func (j Job) ArrayRange() string { return ArraySpec(shardRange(j.Shards), j.MaxRunning) }

func shardRange(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// ArraySpec writes sbatch's --array value for the tasks (sorted): ranges
// joined by commas, then %max when max > 0.
func ArraySpec(tasks []int, max int) string {
	var parts []string
	for i := 0; i < len(tasks); {
		j := i
		for j+1 < len(tasks) && tasks[j+1] == tasks[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(tasks[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", tasks[i], tasks[j]))
		}
		i = j + 1
	}
	s := strings.Join(parts, ",")
	if max > 0 {
		s += "%" + strconv.Itoa(max)
	}
	return s
}

// ShellQuote quotes s as one word for a POSIX shell.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+%@", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// ShellJoin quotes each of args and joins them with blanks.
func ShellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

//go:embed scripts.tmpl
var scriptsText string

var scripts = template.Must(template.New("").Funcs(template.FuncMap{"q": ShellQuote}).Parse(scriptsText))

// Job fills in the scripts' values from the options for the sweep file.
func (o Options) Job(sweepPath string) (Job, error) {
	dir, err := o.dir(sweepPath)
	if err != nil {
		return Job{}, err
	}
	prog, err := o.program()
	if err != nil {
		return Job{}, err
	}
	data := o.Data
	if data != "" {
		if data, err = filepath.Abs(data); err != nil {
			return Job{}, fmt.Errorf("--data: %w", err)
		}
	}
	for _, p := range []struct{ what, path string }{{"--out", dir}, {"--noprop", prog}, {"--data", data}} {
		// Paths go into #SBATCH lines, which sbatch splits at blanks.
		if strings.ContainsAny(p.path, " \t\r\n\"'\\") {
			return Job{}, fmt.Errorf("%s %q: a path with blanks, quotes or backslashes cannot go into the job scripts; pick another", p.what, p.path)
		}
	}
	sweepAbs, err := filepath.Abs(sweepPath)
	if err != nil {
		return Job{}, fmt.Errorf("%s: %w", sweepPath, err)
	}
	return Job{
		Name: "noprop-" + filepath.Base(dir), Dir: dir, Noprop: prog, Sweep: filepath.Base(sweepPath),
		Shards: o.Shards, MaxRunning: o.MaxRunning, CPUs: o.CPUs, Time: o.Time, Mem: o.Mem, Partition: o.Partition,
		Sbatch: o.Sbatch, Data: data, Stale: o.Stale, Resubmit: ShellJoin(o.resubmit(prog, sweepAbs, dir, data)),
	}, nil
}

// dir is the study folder, absolute.
func (o Options) dir(sweepPath string) (string, error) {
	out := o.Out
	if out == "" {
		out = strings.TrimSuffix(sweepPath, filepath.Ext(sweepPath))
		if out == sweepPath {
			out += ".slurm"
		}
	}
	dir, err := filepath.Abs(out)
	if err != nil {
		return "", fmt.Errorf("--out %s: %w", out, err)
	}
	return dir, nil
}

// program is the noprop program the jobs run, absolute.
func (o Options) program() (string, error) {
	prog := o.Noprop
	var err error
	if prog == "" {
		if prog, err = os.Executable(); err != nil {
			return "", fmt.Errorf("find this program for the jobs (name it with --noprop): %w", err)
		}
	}
	if prog, err = filepath.Abs(prog); err != nil {
		return "", fmt.Errorf("--noprop: %w", err)
	}
	if o.Noprop == "" && strings.Contains(prog, string(filepath.Separator)+"go-build") {
		return "", fmt.Errorf("this program is a temporary build (go run) that the jobs would not find: build it (make build) and run that, or name it with --noprop")
	}
	if info, err := os.Stat(prog); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return "", fmt.Errorf("--noprop %s: not an executable program", prog)
	}
	return prog, nil
}

// resubmit is the command that submits the study again.
func (o Options) resubmit(prog, sweep, dir, data string) []string {
	args := []string{prog, "slurm", sweep, "--shards", strconv.Itoa(o.Shards), "--out", dir}
	for _, f := range []struct{ flag, v string }{{"--partition", o.Partition}, {"--time", o.Time}, {"--mem", o.Mem}, {"--data", data}} {
		if f.v != "" {
			args = append(args, f.flag, f.v)
		}
	}
	if o.CPUs != DefaultCPUs {
		args = append(args, "--cpus", strconv.Itoa(o.CPUs))
	}
	if o.MaxRunning > 0 {
		args = append(args, "--max-running", strconv.Itoa(o.MaxRunning))
	}
	if o.Stale != results.DefaultStaleAfter {
		args = append(args, "--stale", o.Stale.String())
	}
	for _, s := range o.Sbatch {
		args = append(args, "--sbatch="+s)
	}
	return append(args, "--submit")
}

// Write writes the study folder: a copy of the sweep file, array.sbatch,
// merge.sbatch and logs/.
func (j Job) Write(sweepSrc []byte) error {
	if err := os.MkdirAll(filepath.Join(j.Dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", j.Dir, err)
	}
	if err := outfile.Write(filepath.Join(j.Dir, "sweep.yaml"), 0o644, func(w io.Writer) error {
		_, err := w.Write(sweepSrc)
		return err
	}); err != nil {
		return err
	}
	for _, t := range []string{"array", "merge"} {
		var b bytes.Buffer
		if err := scripts.ExecuteTemplate(&b, t, j); err != nil {
			return fmt.Errorf("write the %s script: %w", t, err)
		}
		if err := outfile.Write(filepath.Join(j.Dir, t+".sbatch"), 0o755, func(w io.Writer) error {
			_, err := w.Write(b.Bytes())
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// State is what the databases of a study folder hold of a sweep.
type State struct {
	PerShard []int // runs per shard
	Pending  []int // shards with runs not done, in order
	Done     int   // runs done in study.db or their shard's database
	Unmerged int   // done runs that study.db lacks
	Live     int   // runs a live owner trains now
}

// Sizes says how many runs the shards hold: "1 run each", "2 to 4 runs each".
func (s State) Sizes() string {
	lo, hi := slices.Min(s.PerShard), slices.Max(s.PerShard)
	switch {
	case lo == hi && lo == 1:
		return "1 run each"
	case lo == hi:
		return fmt.Sprintf("%d runs each", lo)
	}
	return fmt.Sprintf("%d to %d runs each", lo, hi)
}

// States reads dir/study.db and dir/shard-i.db, where they exist, as a task
// of the array will: a run counts as done when it is done in either.
func States(ctx context.Context, dir string, specs []harness.Spec, n int, stale time.Duration) (State, error) {
	st := State{PerShard: make([]int, n)}
	var study *results.Store
	stores := make([]*results.Store, n)
	defer func() {
		for _, s := range append(stores, study) {
			if s != nil {
				s.Close()
			}
		}
	}()
	var err error
	if study, err = openIfThere(filepath.Join(dir, "study.db")); err != nil {
		return st, err
	}
	byShard := make([][]results.Unit, n)
	for _, s := range specs {
		i := shard.Of(s.ConfigHash(), s.Seed, n)
		st.PerShard[i]++
		byShard[i] = append(byShard[i], results.Unit{ConfigHash: s.ConfigHash(), Seed: s.Seed})
	}
	for i := range n {
		if stores[i], err = openIfThere(filepath.Join(dir, fmt.Sprintf("shard-%d.db", i))); err != nil {
			return st, err
		}
		var others []*results.Store
		if stores[i] != nil {
			others = append(others, stores[i])
		}
		states, err := results.UnitStates(ctx, study, others, byShard[i], stale)
		if err != nil {
			return st, err
		}
		pending := false
		for _, u := range states {
			switch u.Status {
			case results.Done:
				st.Done++
			case results.DoneElsewhere:
				st.Done++
				st.Unmerged++
			case results.Running:
				st.Live++
				pending = true
			default:
				pending = true
			}
		}
		if pending {
			st.Pending = append(st.Pending, i)
		}
	}
	return st, nil
}

// openIfThere opens a database for reading when the file exists (nil when
// not); one whose writer was killed while it committed is rolled back
// first, as its next writer would.
func openIfThere(path string) (*results.Store, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	return results.OpenInput(path)
}

// Sbatch runs sbatch --parsable ... and returns the job ID it prints
// ("id" or "id;cluster").
func Sbatch(ctx context.Context, path string, args []string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("sbatch %s: %s", args[len(args)-1], msg)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(stdout.String()), ";")
	if _, err := strconv.Atoi(id); err != nil {
		return "", fmt.Errorf("sbatch %s printed %q, not a job ID", args[len(args)-1], strings.TrimSpace(stdout.String()))
	}
	return id, nil
}

// FindSbatch returns the path of sbatch, or an error that says what to do.
func FindSbatch() (string, error) {
	path, err := exec.LookPath("sbatch")
	if err != nil {
		return "", fmt.Errorf("--submit: sbatch is not on PATH; run on a Slurm login node, or leave out --submit and submit the printed commands later")
	}
	return path, nil
}

// Run prepares the job array of the sweep file at sweepPath, whose runs are
// specs, and reports to w: it checks that the sweep's data can be found,
// reads the study folder's databases, writes the scripts, and either
// prints the sbatch commands (sbatchPath "") or submits the shards with
// runs left and the merge job after them.
func Run(ctx context.Context, w io.Writer, sweepPath string, specs []harness.Spec, o Options, sbatchPath string) error {
	if err := o.Check(); err != nil {
		return err
	}
	if o.Shards > len(specs) {
		return fmt.Errorf("--shards %d: the sweep has %d runs, so at most %d shards", o.Shards, len(specs), len(specs))
	}
	if err := harness.LocateData(specs, o.Data); err != nil {
		return err
	}
	job, err := o.Job(sweepPath)
	if err != nil {
		return err
	}
	if info, err := os.Stat(job.Dir); err == nil && !info.IsDir() {
		return fmt.Errorf("--out %s is a file; name a folder", job.Dir)
	}
	st, err := States(ctx, job.Dir, specs, o.Shards, o.Stale)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(sweepPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", sweepPath, err)
	}
	if err := job.Write(src); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d runs in %d shards (%s); %d done, %d to run",
		sweepPath, len(specs), o.Shards, st.Sizes(), st.Done, len(specs)-st.Done)
	if len(st.Pending) > 0 {
		fmt.Fprintf(w, ", in shards %s", ArraySpec(st.Pending, 0))
	}
	fmt.Fprintf(w, "\nwrote sweep.yaml, array.sbatch and merge.sbatch in %s\n", job.Dir)
	if st.Live > 0 {
		fmt.Fprintf(w, "note: %d runs are running with a fresh heartbeat: jobs of an earlier submission are at work, and a task submitted now skips them\n", st.Live)
	}
	return job.submit(ctx, w, st, sbatchPath)
}

// submit submits the array (its shards with runs left) and the merge job,
// or prints how to when sbatchPath is "".
func (j Job) submit(ctx context.Context, w io.Writer, st State, sbatchPath string) error {
	arrayScript, mergeScript := filepath.Join(j.Dir, "array.sbatch"), filepath.Join(j.Dir, "merge.sbatch")
	arrayArgs := []string{"--parsable", "--array=" + ArraySpec(st.Pending, j.MaxRunning), arrayScript}
	mergeArgs := []string{"--parsable", "--dependency=afterany:JOBID", mergeScript}
	switch {
	case len(st.Pending) == 0 && st.Unmerged == 0:
		fmt.Fprintf(w, "every run of the sweep is done in %s; nothing to submit\n", filepath.Join(j.Dir, "study.db"))
		return nil
	case len(st.Pending) == 0:
		fmt.Fprintf(w, "every run is done, but %d are not merged into %s yet\n", st.Unmerged, filepath.Join(j.Dir, "study.db"))
		arrayArgs, mergeArgs = nil, []string{"--parsable", mergeScript}
	}
	if sbatchPath == "" {
		fmt.Fprintln(w, "submit with:")
		if arrayArgs == nil {
			fmt.Fprintf(w, "  sbatch %s\n", ShellQuote(mergeScript))
		} else {
			fmt.Fprintf(w, "  jid=$(sbatch %s) && sbatch --dependency=afterany:${jid%%%%;*} %s\n",
				ShellJoin(arrayArgs), ShellQuote(mergeScript))
		}
		fmt.Fprintf(w, "or: %s\n", j.Resubmit)
		return nil
	}
	var arrayID string
	var err error
	if arrayArgs != nil {
		if arrayID, err = Sbatch(ctx, sbatchPath, arrayArgs); err != nil {
			return err
		}
		mergeArgs[1] = "--dependency=afterany:" + arrayID
	}
	mergeID, err := Sbatch(ctx, sbatchPath, mergeArgs)
	if err != nil {
		if arrayID != "" {
			return fmt.Errorf("%w; the job array %s is submitted: submit the merge job after it with sbatch --dependency=afterany:%s %s", err, arrayID, arrayID, ShellQuote(mergeScript))
		}
		return err
	}
	if arrayID == "" {
		fmt.Fprintf(w, "submitted merge job %s; its output goes to %s\n", mergeID, filepath.Join(j.Dir, "logs"))
		return nil
	}
	fmt.Fprintf(w, "submitted job array %s (shards %s of %d) and merge job %s after it\n", arrayID, ArraySpec(st.Pending, 0), j.Shards, mergeID)
	fmt.Fprintf(w, "logs in %s; progress: squeue -j %s,%s and noprop runs --db %s\n",
		filepath.Join(j.Dir, "logs"), arrayID, mergeID, ShellQuote(filepath.Join(j.Dir, fmt.Sprintf("shard-%d.db", st.Pending[0]))))
	return nil
}
