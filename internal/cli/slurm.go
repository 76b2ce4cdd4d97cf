package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/harness"
	"github.com/noprop/noprop/harness/slurm"
	"github.com/noprop/noprop/methods/catalog"
	"github.com/noprop/noprop/results"
)

func slurmCmd() *cobra.Command {
	var (
		o      slurm.Options
		submit bool
	)
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
		Args: args(1, false, "name one sweep file (YAML)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Check(); err != nil {
				return err
			}
			var sbatch string
			if submit {
				var err error
				if sbatch, err = slurm.FindSbatch(); err != nil {
					return err
				}
			}
			specs, err := harness.ReadSweepFile(cmd.Context(), args[0], catalog.All, nil)
			if err != nil {
				return err
			}
			return slurm.Run(cmd.Context(), os.Stdout, args[0], specs, o, sbatch)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Shards, "shards", 8, "number of array tasks; each runs one shard of the sweep")
	fl.StringVar(&o.Out, "out", "", "folder for the scripts, the databases and the logs (default: the sweep file's path without its extension); put it on the shared file system")
	fl.BoolVar(&submit, "submit", false, "submit the array and the merge job with sbatch and print their job IDs")
	fl.StringVar(&o.Partition, "partition", "", "Slurm partition of both jobs (default: the cluster's)")
	fl.StringVar(&o.Time, "time", "", "time limit of each array task, in Slurm's format: minutes, h:mm:ss, d-hh, d-hh:mm (default: the partition's)")
	fl.IntVar(&o.CPUs, "cpus", slurm.DefaultCPUs, "CPUs of each array task (GOMAXPROCS of its training)")
	fl.StringVar(&o.Mem, "mem", "", "memory of each array task, e.g. 4G or 4000M (default: the partition's)")
	fl.IntVar(&o.MaxRunning, "max-running", 0, "at most this many array tasks at once (sbatch --array=...%N); 0: no limit")
	fl.StringArrayVar(&o.Sbatch, "sbatch", nil, "another sbatch option for both jobs, e.g. --sbatch=--account=proj --sbatch=--qos=long; repeatable")
	fl.StringVar(&o.Data, "data", "", "data folder the tasks read (default: $NOPROP_DATA, then the standard places); the compute nodes must see it")
	fl.DurationVar(&o.Stale, "stale", results.DefaultStaleAfter, "heartbeat age after which a task takes over a run whose job died (a task submitted again sooner skips it)")
	fl.StringVar(&o.Noprop, "noprop", "", "the noprop program the jobs run (default: this one); the compute nodes must see it")
	return cmd
}
