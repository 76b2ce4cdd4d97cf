// Package results stores the outcome of continual-learning runs in SQLite and
// reports them as tables.
//
// A results database holds, per run: the full run spec as JSON and its
// config hash (the spec without the seed, which groups the seeds of one
// configuration), the stream's random choices, the accuracy matrix R
// (R[i][j] is the test accuracy in percent on task j after training task i;
// row 0 is the untrained model), a per-epoch training log, the metrics the
// harness derived from R (average accuracy, forgetting, BWT, FWT, ...) and
// the run's peak memory. Aggregates over seeds (mean ± standard error, per
// metric) and text tables are computed from what is stored.
//
// The database is versioned (PRAGMA user_version) and migrated on Open in one
// transaction; a database written by a newer program, a file that is not an
// SQLite database, a foreign SQLite database and a truncated or damaged one
// are refused without being modified, with one line that says what to do, and
// so are a file or folder the user may not write. OpenReadOnly reads a
// database without writing anything, also in a read-only folder and from an
// older schema version. Every write is one transaction. The database runs in
// WAL mode with a busy timeout, so several processes on one machine may write
// to the same file; OpenJournal puts a file on a network file system in the
// rollback journal instead, which needs no memory shared between processes.
//
// Seeds are uint64. Column runs.seed holds a seed's 64 bits as SQLite's
// signed INTEGER (the seed itself below 2^63, the seed minus 2^64 from there
// on, as programs that store unsigned 64-bit values in signed columns do), so
// that every seed is exact and distinct; the generated column runs.seed_text
// spells it in decimal for SQL readers and exports.
//
// A batch runner claims each unit (configuration and seed) with Claim before
// training it: the claim records its owner (host, pid, process start time and
// a random token) and a heartbeat, so that one process trains a unit however
// many run the same batch, and a unit whose owner died is taken over, its
// partial rows replaced in one transaction. RequestRerun records the intent
// of a rerun per unit, so that an interrupted rerun resumes instead of
// starting over. Run IDs are random 128-bit hex strings, so databases written
// on different machines can be merged (Merge) by run identity.
//
// Package results imports no other package of this project: the harness
// hands it plain values (Run, Epoch, Metric, Memory) and reads plain values
// back.
package results
