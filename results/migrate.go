package results

import (
	"context"
	"fmt"
	"time"
)

// A migration is one step of the schema. Step i (0-based) brings the
// database from version i to version i+1. Steps are only ever appended:
// a released step is never edited, since databases in the field already
// contain its result.
type migration struct {
	description string
	sql         string
}

// migrations is the ordered list of schema steps. It is a variable only so
// that tests can add a failing step.
var migrations = []migration{
	{
		description: "runs, accuracy, epochs, metrics",
		sql: `
CREATE TABLE migrations (
	version     INTEGER PRIMARY KEY,
	description TEXT NOT NULL,
	applied_at  TEXT NOT NULL
);
CREATE TABLE runs (
	id              TEXT PRIMARY KEY,
	spec_json       TEXT NOT NULL,
	config_hash     TEXT NOT NULL,
	method          TEXT NOT NULL,
	stream          TEXT NOT NULL,
	scenario        TEXT NOT NULL,
	seed            INTEGER NOT NULL,
	program_version TEXT NOT NULL DEFAULT '',
	host            TEXT NOT NULL DEFAULT '',
	choices_json    TEXT,
	status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
	error           TEXT,
	started_at      TEXT NOT NULL,
	ended_at        TEXT,
	num_tasks       INTEGER NOT NULL CHECK (num_tasks >= 1),
	peak_heap_bytes INTEGER,
	peak_rss_bytes  INTEGER
);
CREATE INDEX runs_by_config ON runs (config_hash, seed, status);
CREATE INDEX runs_by_group ON runs (stream, scenario, method);
CREATE TABLE accuracy (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	after_task INTEGER NOT NULL CHECK (after_task >= 0),
	eval_task  INTEGER NOT NULL CHECK (eval_task >= 1),
	accuracy   REAL,
	note       TEXT,
	PRIMARY KEY (run_id, after_task, eval_task)
);
CREATE TABLE epochs (
	run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	task      INTEGER NOT NULL,
	line      INTEGER NOT NULL,
	epoch     INTEGER NOT NULL,
	part      TEXT NOT NULL DEFAULT '',
	loss      REAL,
	train_acc REAL,
	seconds   REAL,
	examples  INTEGER,
	PRIMARY KEY (run_id, task, line)
);
CREATE TABLE metrics (
	run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	name   TEXT NOT NULL,
	value  REAL,
	note   TEXT,
	PRIMARY KEY (run_id, name)
);
`,
	},
	{
		description: "accuracy of every inference run",
		sql: `
CREATE TABLE inference_accuracy (
	run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	after_task    INTEGER NOT NULL CHECK (after_task >= 0),
	eval_task     INTEGER NOT NULL CHECK (eval_task >= 1),
	inference_run INTEGER NOT NULL CHECK (inference_run >= 1),
	accuracy      REAL,
	PRIMARY KEY (run_id, after_task, eval_task, inference_run)
);
`,
	},
	{
		// runs.seed holds a seed's 64 bits as SQLite's signed INTEGER:
		// the seed itself below 2^63, the seed minus 2^64 from 2^63 on.
		// seed_text spells every seed exactly, for readers and exports.
		description: "exact decimal of every seed",
		sql: `
ALTER TABLE runs ADD COLUMN seed_text TEXT GENERATED ALWAYS AS (printf('%llu', seed)) VIRTUAL;
`,
	},
	{
		description: "run owners, heartbeats and rerun generations",
		sql: `
ALTER TABLE runs ADD COLUMN generation INTEGER NOT NULL DEFAULT 0 CHECK (generation >= 0);
ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
ALTER TABLE runs ADD COLUMN owner_start TEXT;
ALTER TABLE runs ADD COLUMN owner_token TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
CREATE UNIQUE INDEX runs_one_claim ON runs (config_hash, seed)
	WHERE status = 'running' AND owner_token IS NOT NULL;
CREATE TABLE reruns (
	config_hash  TEXT NOT NULL,
	seed         INTEGER NOT NULL,
	generation   INTEGER NOT NULL CHECK (generation >= 1),
	requested_at TEXT NOT NULL,
	PRIMARY KEY (config_hash, seed)
);
CREATE TABLE rerun_batches (
	batch_key    TEXT PRIMARY KEY,
	units        INTEGER NOT NULL,
	requested_at TEXT NOT NULL
);
`,
	},
	{
		description: "copies of runs that conflicted in a merge",
		sql: `
CREATE TABLE merge_conflicts (
	run_id      TEXT NOT NULL,
	source      TEXT NOT NULL,
	digest      TEXT NOT NULL,
	kept_digest TEXT NOT NULL,
	run_json    TEXT NOT NULL,
	merged_at   TEXT NOT NULL,
	PRIMARY KEY (run_id, digest)
);
`,
	},
	{
		description: "test accuracy in the training log",
		sql:         `ALTER TABLE epochs ADD COLUMN test_acc REAL;`,
	},
	{
		description: "named loss terms in the training log",
		sql:         `ALTER TABLE epochs ADD COLUMN terms TEXT;`,
	},
	{
		description: "scoring time of each cell of the accuracy matrix",
		sql:         `ALTER TABLE accuracy ADD COLUMN seconds REAL;`,
	},
	{
		description: "validation accuracy of each cell of the accuracy matrix",
		sql:         `ALTER TABLE accuracy ADD COLUMN val_accuracy REAL;`,
	},
	{
		description: "validation accuracy in the training log",
		sql:         `ALTER TABLE epochs ADD COLUMN val_acc REAL;`,
	},
	{
		description: "accuracy of each stage of a model (the probe)",
		sql: `
CREATE TABLE probe_accuracy (
	run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	after_task INTEGER NOT NULL CHECK (after_task >= 0),
	eval_task  INTEGER NOT NULL CHECK (eval_task >= 1),
	stage      TEXT NOT NULL,
	accuracy   REAL,
	PRIMARY KEY (run_id, after_task, eval_task, stage)
);
`,
	},
	{
		description: "the kernels a run computed with",
		sql:         `ALTER TABLE runs ADD COLUMN kernels TEXT NOT NULL DEFAULT '';`,
	},
}

// SchemaVersion is the schema version this program writes: the number of
// migration steps it knows.
func SchemaVersion() int { return len(migrations) }

// The schema versions that added what a reader of an older database must do
// without (OpenReadOnly reads a database as it is, without migrating it).
const (
	versionInference = 2  // table inference_accuracy
	versionOwners    = 4  // runs.generation, owner_*, heartbeat_at; reruns, rerun_batches
	versionConflicts = 5  // table merge_conflicts
	versionTestAcc   = 6  // epochs.test_acc
	versionTerms     = 7  // epochs.terms
	versionSeconds   = 8  // accuracy.seconds
	versionValAcc    = 9  // accuracy.val_accuracy
	versionCurveVal  = 10 // epochs.val_acc
	versionProbe     = 11 // table probe_accuracy
	versionKernels   = 12 // runs.kernels
)

// migrate applies the missing migration steps in one transaction. BEGIN
// IMMEDIATE takes the write lock first, so two processes opening a fresh
// file at once migrate it once.
func (s *Store) migrate(ctx context.Context) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if isBusy(err) {
		return fmt.Errorf("results db %s is locked by another process (a merge, a migration or an sqlite3 shell holds it) "+
			"and stayed locked for %s: let it finish or stop it, then run again", s.path, BusyTimeout)
	}
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	// Re-check inside the transaction: another process may have migrated
	// (or created a foreign database) since the first look.
	id, err := readIdentity(ctx, tx)
	if err != nil {
		return err
	}
	if err := id.check(); err != nil {
		return err
	}
	if id.version == len(migrations) {
		return tx.Rollback()
	}
	now := formatTime(time.Now())
	for v := id.version; v < len(migrations); v++ {
		m := migrations[v]
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate to version %d (%s): %w; nothing was changed", v+1, m.description, err)
		}
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO migrations (version, description, applied_at) VALUES (?, ?, ?)",
			v+1, m.description, now); err != nil {
			return fmt.Errorf("migrate to version %d: record step: %w; nothing was changed", v+1, err)
		}
	}
	// PRAGMA arguments cannot be bound; both values are integers of ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("migrate: set schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		return fmt.Errorf("migrate: set application id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
