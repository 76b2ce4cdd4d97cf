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
// SQLite database and a foreign SQLite database are refused without being
// modified. Every write is one transaction. The database runs in WAL mode with
// a busy timeout, so several processes on one machine may write to the same
// file, and run IDs are random 128-bit hex strings, so databases written on
// different machines can be merged.
//
// Package results imports no other package of this project: the harness
// hands it plain values (Run, Epoch, Metric, Memory) and reads plain values
// back.
package results
