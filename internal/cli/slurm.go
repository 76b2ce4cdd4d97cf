package cli

import (
	"bytes"
	"context"
	"errors"
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

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
	"github.com/noprop/noprop/shard"
)

type slurmFlags struct {
	shards     int
	out        string
	submit     bool
	partition  string
	time       string
	cpus       int
	mem        string
	maxRunning int
	sbatch     []string
	data       string
	stale      time.Duration
	noprop     string
}

func slurmCmd() *cobra.Command {
	var f slurmFlags
	cmd := &cobra.Command{
		Use:   "slurm SWEEP.yaml",
		Short: "Write (and submit) the Slurm job array that runs a sweep file, and the job that merges its results",
		Long: `Slurm splits the runs of a sweep file into --shards stable shards (by
configuration and seed, see noprop run --shard) and writes, in --out DIR:

  sweep.yaml     a copy of the sweep file, which every task reads
  array.sbatch   the job array: task i runs shard i into DIR/shard-i.db
  merge.sbatch   the merge job: noprop merge DIR/study.db DIR/shard-*.db, then
                 how many runs are done, and the table
  logs/          each job's output

Each shard database is in SQLite's rollback journal, in DIR itself: DIR may be
on the cluster's shared (network) file system, where the write-ahead log
does not work, and every committed run stays there whatever happens to the
node. A task skips the runs already done in its database or in DIR/study.db,
and resumes an interrupted one, so submitting again after failures runs only
what is missing: this command reads the databases first, says which runs
are done, and submits only the shards that have runs left, with a merge job
after them (--dependency=afterany). Keep --shards the same between submissions
(runs done under another count are found in study.db once merged).

Without --submit it prints the two sbatch commands; with it, it runs them
and prints the job IDs. Progress: noprop runs --db DIR/shard-0.db, or merge a
snapshot: noprop merge now.db DIR/shard-*.db && noprop plan SWEEP.yaml --db now.db.`,
		Example: `  noprop slurm study.yaml --shards 16 --partition cpu --time 8:00:00 --cpus 4 --mem 8G
  noprop slurm study.yaml --shards 16 --out runs/study --submit
  noprop slurm study.yaml --shards 16 --out runs/study --submit   # again after failures: only what is missing`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSlurm(cmd.Context(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.shards, "shards", 8, "number of array tasks; each runs one shard of the sweep")
	fl.StringVar(&f.out, "out", "", "folder for the scripts, the databases and the logs (default: the sweep file's path without its extension); put it on the shared file system")
	fl.BoolVar(&f.submit, "submit", false, "submit the array and the merge job with sbatch and print their job IDs")
	fl.StringVar(&f.partition, "partition", "", "Slurm partition of both jobs (default: the cluster's)")
	fl.StringVar(&f.time, "time", "", "time limit of each array task, in Slurm's format: minutes, h:mm:ss, d-hh, d-hh:mm (default: the partition's)")
	fl.IntVar(&f.cpus, "cpus", 2, "CPUs of each array task (GOMAXPROCS of its training)")
	fl.StringVar(&f.mem, "mem", "", "memory of each array task, e.g. 4G or 4000M (default: the partition's)")
	fl.IntVar(&f.maxRunning, "max-running", 0, "at most this many array tasks at once (sbatch --array=...%N); 0: no limit")
	fl.StringArrayVar(&f.sbatch, "sbatch", nil, "another sbatch option for both jobs, e.g. --sbatch=--account=proj --sbatch=--qos=long; repeatable")
	fl.StringVar(&f.data, "data", "", "data folder the tasks read (default: $NOPROP_DATA, then the standard places); the compute nodes must see it")
	fl.DurationVar(&f.stale, "stale", results.DefaultStaleAfter, "heartbeat age after which a task takes over a run whose job died (a task submitted again sooner skips it)")
	fl.StringVar(&f.noprop, "noprop", "", "the noprop program the jobs run (default: this one); the compute nodes must see it")
	return cmd
}

var (
	slurmTime      = regexp.MustCompile(`^(\d+-\d+(:\d+){0,2}|\d+(:\d+){0,2}|UNLIMITED|INFINITE)$`)
	slurmMem       = regexp.MustCompile(`^\d+[KMGT]?$`)
	slurmPartition = regexp.MustCompile(`^[A-Za-z0-9_.,-]+$`)
)

// managedSbatch are the sbatch options the scripts set themselves.
var managedSbatch = []string{"--array", "--output", "--error", "--dependency", "--job-name", "--cpus-per-task", "--mem", "--time", "--partition"}

// check refuses bad flags with one line each, before anything is read.
func (f slurmFlags) check() error {
	switch {
	case f.shards < 1:
		return fmt.Errorf("--shards %d: need at least 1", f.shards)
	case f.cpus < 1:
		return fmt.Errorf("--cpus %d: need at least 1", f.cpus)
	case f.maxRunning < 0:
		return fmt.Errorf("--max-running %d: want 0 (no limit) or more", f.maxRunning)
	case f.time != "" && !slurmTime.MatchString(f.time):
		return fmt.Errorf("--time %q: want Slurm's format, e.g. 90 (minutes), 4:00:00, 2-00 (days-hours) or 1-12:00:00", f.time)
	case f.mem != "" && !slurmMem.MatchString(f.mem):
		return fmt.Errorf("--mem %q: want a size with one of Slurm's units K, M, G, T, e.g. 4G or 4000M", f.mem)
	case f.partition != "" && !slurmPartition.MatchString(f.partition):
		return fmt.Errorf("--partition %q: want a partition name (letters, digits, _ . -; several comma-separated)", f.partition)
	case f.stale <= 0:
		return fmt.Errorf("--stale %s: want a positive duration, e.g. 5m", f.stale)
	}
	for _, o := range f.sbatch {
		name, _, _ := strings.Cut(o, "=")
		switch {
		case !strings.HasPrefix(o, "--") || len(o) < 3 || strings.ContainsAny(o, " \t\r\n"):
			return fmt.Errorf("--sbatch %q: want one long sbatch option without spaces, e.g. --sbatch=--qos=long", o)
		case slices.Contains(managedSbatch, name):
			return fmt.Errorf("--sbatch %q: the scripts set %s themselves; use the flag of noprop slurm for it (see --help)", o, name)
		}
	}
	return nil
}

// slurmJob is what the two scripts are written from.
type slurmJob struct {
	Name, Dir, Noprop, Sweep string
	Shards, MaxRunning, CPUs int
	Time, Mem, Partition     string
	Sbatch                   []string
	Data                     string
	Stale                    time.Duration
	Resubmit                 string
}

// ArrayRange is the --array value of every shard.
func (j slurmJob) ArrayRange() string { return arraySpec(shardRange(j.Shards), j.MaxRunning) }

func shardRange(n int) []int {
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// arraySpec writes sbatch's --array value for the tasks (sorted): ranges
// joined by commas, then %max when max > 0.
func arraySpec(tasks []int, max int) string {
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

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+%@", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

var slurmScripts = template.Must(template.New("").Funcs(template.FuncMap{"q": shellQuote}).Parse(`
{{- define "resources"}}
{{- if .Mem}}
#SBATCH --mem={{.Mem}}
{{- end}}
{{- if .Partition}}
#SBATCH --partition={{.Partition}}
{{- end}}
{{- range .Sbatch}}
#SBATCH {{.}}
{{- end}}
{{- end}}

{{- define "array" -}}
#!/bin/bash
# The job array of {{.Sweep}}, written by noprop slurm: task i trains shard
# i/{{.Shards}} of the sweep into its own database, DIR/shard-i.db, in SQLite's
# rollback journal (DIR may be on a network file system), and skips the runs
# done there or in the merged DIR/study.db; a task started again resumes.
# Submit it, and the merge job after it, with noprop slurm ... --submit;
# again after failures, which submits only the shards with runs left:
#   {{.Resubmit}}
#SBATCH --job-name={{.Name}}
#SBATCH --array={{.ArrayRange}}
#SBATCH --output={{.Dir}}/logs/shard-%a.%A.out
#SBATCH --cpus-per-task={{.CPUs}}
{{- if .Time}}
#SBATCH --time={{.Time}}
{{- end}}
{{- template "resources" .}}
set -euo pipefail
dir={{q .Dir}}
task=${SLURM_ARRAY_TASK_ID:?run this script as a Slurm job array: sbatch --array={{.ArrayRange}} ...}
done_in=()
if [ -s "$dir/study.db" ]; then
  done_in=(--done-in "$dir/study.db")
fi
export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-{{.CPUs}}}
echo "shard $task/{{.Shards}} on $(hostname), job ${SLURM_ARRAY_JOB_ID:-?}_$task, $(date -u +%FT%TZ)"
exec {{q .Noprop}} run --sweep "$dir/sweep.yaml" --shard "$task/{{.Shards}}" \
  --db "$dir/shard-$task.db" --journal rollback --stale {{.Stale}}{{if .Data}} --data {{q .Data}}{{end}} \
  ${done_in[@]+"${done_in[@]}"}
{{end}}

{{- define "merge" -}}
#!/bin/bash
# The merge job of {{.Sweep}}, written by noprop slurm: merges the shard
# databases of DIR into DIR/study.db (by run ID: merging again changes
# nothing), says how many runs of the sweep are done, and prints the table.
#SBATCH --job-name={{.Name}}-merge
#SBATCH --output={{.Dir}}/logs/merge.%j.out
#SBATCH --cpus-per-task=1
#SBATCH --time=30:00
{{- template "resources" .}}
set -euo pipefail
dir={{q .Dir}}
noprop={{q .Noprop}}
shopt -s nullglob
shards=("$dir"/shard-*.db)
if [ ${#shards[@]} -eq 0 ]; then
  echo "no shard database in $dir: every task failed before it opened one; see $dir/logs/" >&2
  exit 1
fi
"$noprop" merge --journal rollback "$dir/study.db" "${shards[@]}"
summary=$("$noprop" plan "$dir/sweep.yaml" --db "$dir/study.db" | tail -n 1)
echo "$summary"
case $summary in
*", 0 to run"*) ;;
*) echo "not every run is done (see $dir/logs/); to run the rest:" {{q .Resubmit}} ;;
esac
echo
"$noprop" table --db "$dir/study.db"
{{end}}`))

func runSlurm(ctx context.Context, sweepPath string, f slurmFlags) error {
	if err := f.check(); err != nil {
		return err
	}
	var sbatchPath string
	if f.submit {
		var err error
		if sbatchPath, err = exec.LookPath("sbatch"); err != nil {
			return fmt.Errorf("--submit: sbatch is not on PATH; run on a Slurm login node, or leave out --submit and submit the printed commands later")
		}
	}
	specs, err := harness.ReadSweepFile(sweepPath, catalog.All, nil)
	if err != nil {
		return err
	}
	if f.shards > len(specs) {
		return fmt.Errorf("--shards %d: the sweep has %d runs, so at most %d shards", f.shards, len(specs), len(specs))
	}
	if err := locateData(specs, f.data); err != nil {
		return err
	}
	job, err := f.job(sweepPath)
	if err != nil {
		return err
	}
	if info, err := os.Stat(job.Dir); err == nil && !info.IsDir() {
		return fmt.Errorf("--out %s is a file; name a folder", job.Dir)
	}
	st, err := shardStates(ctx, job.Dir, specs, f.shards, f.stale)
	if err != nil {
		return err
	}

	if err := os.MkdirAll(filepath.Join(job.Dir, "logs"), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", job.Dir, err)
	}
	src, err := os.ReadFile(sweepPath)
	if err != nil {
		return fmt.Errorf("read %s: %w", sweepPath, err)
	}
	type file struct {
		name string
		body []byte
		mode os.FileMode
	}
	files := []file{{"sweep.yaml", src, 0o644}}
	for _, t := range []string{"array", "merge"} {
		var b bytes.Buffer
		if err := slurmScripts.ExecuteTemplate(&b, t, job); err != nil {
			return fmt.Errorf("write the %s script: %w", t, err)
		}
		files = append(files, file{t + ".sbatch", b.Bytes(), 0o755})
	}
	for _, file := range files {
		path := filepath.Join(job.Dir, file.name)
		err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(file.body); return err })
		if err == nil {
			err = os.Chmod(path, file.mode)
		}
		if err != nil {
			return err
		}
	}

	arrayScript, mergeScript := filepath.Join(job.Dir, "array.sbatch"), filepath.Join(job.Dir, "merge.sbatch")
	fmt.Printf("%s: %d runs in %d shards (%s); %d done, %d to run",
		sweepPath, len(specs), f.shards, st.sizes(), st.done, len(specs)-st.done)
	if len(st.pending) > 0 {
		fmt.Printf(", in shards %s", arraySpec(st.pending, 0))
	}
	fmt.Printf("\nwrote %s, array.sbatch and merge.sbatch in %s\n", "sweep.yaml", job.Dir)
	if st.live > 0 {
		fmt.Printf("note: %d runs are running with a fresh heartbeat: jobs of an earlier submission are at work, and a task submitted now skips them\n", st.live)
	}
	arrayArgs := []string{"--parsable", "--array=" + arraySpec(st.pending, f.maxRunning), arrayScript}
	mergeArgs := []string{"--parsable", "--dependency=afterany:JOBID", mergeScript}
	switch {
	case len(st.pending) == 0 && st.unmerged == 0:
		fmt.Printf("every run of the sweep is done in %s; nothing to submit\n", filepath.Join(job.Dir, "study.db"))
		return nil
	case len(st.pending) == 0:
		fmt.Printf("every run is done, but %d are not merged into %s yet\n", st.unmerged, filepath.Join(job.Dir, "study.db"))
		arrayArgs, mergeArgs = nil, mergeArgs[:1:1]
		mergeArgs = append(mergeArgs, mergeScript)
	}
	if !f.submit {
		fmt.Println("submit with:")
		if arrayArgs == nil {
			fmt.Printf("  sbatch %s\n", shellQuote(mergeScript))
		} else {
			fmt.Printf("  jid=$(sbatch %s) && sbatch --dependency=afterany:${jid%%%%;*} %s\n",
				shellJoin(arrayArgs), shellQuote(mergeScript))
		}
		fmt.Printf("or: %s\n", job.Resubmit)
		return nil
	}
	var arrayID string
	if arrayArgs != nil {
		if arrayID, err = sbatch(ctx, sbatchPath, arrayArgs); err != nil {
			return err
		}
		mergeArgs[1] = "--dependency=afterany:" + arrayID
	}
	mergeID, err := sbatch(ctx, sbatchPath, mergeArgs)
	if err != nil {
		if arrayID != "" {
			return fmt.Errorf("%w; the job array %s is submitted: submit the merge job after it with sbatch --dependency=afterany:%s %s", err, arrayID, arrayID, shellQuote(mergeScript))
		}
		return err
	}
	if arrayID != "" {
		fmt.Printf("submitted job array %s (shards %s of %d) and merge job %s after it\n", arrayID, arraySpec(st.pending, 0), f.shards, mergeID)
		fmt.Printf("logs in %s; progress: squeue -j %s,%s and noprop runs --db %s\n",
			filepath.Join(job.Dir, "logs"), arrayID, mergeID, shellQuote(filepath.Join(job.Dir, fmt.Sprintf("shard-%d.db", st.pending[0]))))
	} else {
		fmt.Printf("submitted merge job %s; its output goes to %s\n", mergeID, filepath.Join(job.Dir, "logs"))
	}
	return nil
}

// job fills in the scripts' values from the flags.
func (f slurmFlags) job(sweepPath string) (slurmJob, error) {
	out := f.out
	if out == "" {
		out = strings.TrimSuffix(sweepPath, filepath.Ext(sweepPath))
		if out == sweepPath {
			out += ".slurm"
		}
	}
	dir, err := filepath.Abs(out)
	if err != nil {
		return slurmJob{}, fmt.Errorf("--out %s: %w", out, err)
	}
	prog := f.noprop
	if prog == "" {
		if prog, err = os.Executable(); err != nil {
			return slurmJob{}, fmt.Errorf("find this program for the jobs (name it with --noprop): %w", err)
		}
	}
	if prog, err = filepath.Abs(prog); err != nil {
		return slurmJob{}, fmt.Errorf("--noprop: %w", err)
	}
	if f.noprop == "" && strings.Contains(prog, string(filepath.Separator)+"go-build") {
		return slurmJob{}, fmt.Errorf("this program is a temporary build (go run) that the jobs would not find: build it (make build) and run that, or name it with --noprop")
	}
	if info, err := os.Stat(prog); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
		return slurmJob{}, fmt.Errorf("--noprop %s: not an executable program", prog)
	}
	data := f.data
	if data != "" {
		if data, err = filepath.Abs(data); err != nil {
			return slurmJob{}, fmt.Errorf("--data: %w", err)
		}
	}
	for _, p := range []struct{ what, path string }{{"--out", dir}, {"--noprop", prog}, {"--data", data}} {
		// Paths go into #SBATCH lines, which sbatch splits at blanks.
		if strings.ContainsAny(p.path, " \t\r\n\"'\\") {
			return slurmJob{}, fmt.Errorf("%s %q: a path with blanks, quotes or backslashes cannot go into the job scripts; pick another", p.what, p.path)
		}
	}
	sweepAbs, err := filepath.Abs(sweepPath)
	if err != nil {
		return slurmJob{}, fmt.Errorf("%s: %w", sweepPath, err)
	}
	resubmit := []string{prog, "slurm", sweepAbs, "--shards", strconv.Itoa(f.shards), "--out", dir}
	for _, o := range []struct{ flag, v string }{{"--partition", f.partition}, {"--time", f.time}, {"--mem", f.mem}, {"--data", data}} {
		if o.v != "" {
			resubmit = append(resubmit, o.flag, o.v)
		}
	}
	if f.cpus != 2 {
		resubmit = append(resubmit, "--cpus", strconv.Itoa(f.cpus))
	}
	if f.maxRunning > 0 {
		resubmit = append(resubmit, "--max-running", strconv.Itoa(f.maxRunning))
	}
	if f.stale != results.DefaultStaleAfter {
		resubmit = append(resubmit, "--stale", f.stale.String())
	}
	for _, o := range f.sbatch {
		resubmit = append(resubmit, "--sbatch="+o)
	}
	resubmit = append(resubmit, "--submit")
	return slurmJob{
		Name: "noprop-" + filepath.Base(dir), Dir: dir, Noprop: prog, Sweep: filepath.Base(sweepPath),
		Shards: f.shards, MaxRunning: f.maxRunning, CPUs: f.cpus, Time: f.time, Mem: f.mem, Partition: f.partition,
		Sbatch: f.sbatch, Data: data, Stale: f.stale, Resubmit: shellJoin(resubmit),
	}, nil
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

// shardState is what the databases of a study folder hold of a sweep.
type shardState struct {
	perShard []int // runs per shard
	pending  []int // shards with runs not done, in order
	done     int   // runs done in study.db or their shard's database
	unmerged int   // done runs that study.db lacks
	live     int   // running runs with a fresh heartbeat
}

// sizes says how many runs the shards hold: "1 run each", "2 to 4 runs each".
func (s shardState) sizes() string {
	lo, hi := slices.Min(s.perShard), slices.Max(s.perShard)
	switch {
	case lo == hi && lo == 1:
		return "1 run each"
	case lo == hi:
		return fmt.Sprintf("%d runs each", lo)
	}
	return fmt.Sprintf("%d to %d runs each", lo, hi)
}

// shardStates reads dir/study.db and dir/shard-i.db, where they exist, as a
// task of the array will: a run counts as done when it is done in either.
func shardStates(ctx context.Context, dir string, specs []harness.Spec, n int, stale time.Duration) (shardState, error) {
	st := shardState{perShard: make([]int, n)}
	open := func(name string) (*results.Store, error) {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return openInput(path)
	}
	study, err := open("study.db")
	if err != nil {
		return st, err
	}
	if study != nil {
		defer study.Close()
	}
	stores := make([]*results.Store, n)
	defer func() {
		for _, s := range stores {
			if s != nil {
				s.Close()
			}
		}
	}()
	now := time.Now()
	for i := range stores {
		if stores[i], err = open(fmt.Sprintf("shard-%d.db", i)); err != nil {
			return st, err
		}
		if stores[i] == nil {
			continue
		}
		running, err := stores[i].Runs(ctx, results.Filter{Status: results.StatusRunning})
		if err != nil {
			return st, err
		}
		for _, r := range running {
			if state, _ := results.Liveness(r, stale, now); state == results.OwnerAlive {
				st.live++
			}
		}
	}
	pending := map[int]bool{}
	for _, s := range specs {
		i := shard.Of(s.ConfigHash(), s.Seed, n)
		st.perShard[i]++
		inStudy, inShard := false, false
		var err error
		if study != nil {
			if _, inStudy, err = study.FindDone(ctx, s.ConfigHash(), s.Seed); err != nil {
				return st, err
			}
		}
		if stores[i] != nil {
			if _, inShard, err = stores[i].FindDone(ctx, s.ConfigHash(), s.Seed); err != nil {
				return st, err
			}
		}
		switch {
		case inStudy:
			st.done++
		case inShard:
			st.done++
			st.unmerged++
		default:
			pending[i] = true
		}
	}
	for i := range n {
		if pending[i] {
			st.pending = append(st.pending, i)
		}
	}
	return st, nil
}

// sbatch runs sbatch --parsable ... and returns the job ID it prints
// ("id" or "id;cluster").
func sbatch(ctx context.Context, path string, args []string) (string, error) {
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
