// Package harness joins streams and learners: a Spec names a method, its
// settings, a stream, a scenario and a seed; a Sweep expands a study into
// Specs, checking every part before any work starts; a Runner leases each
// run's unit from its Gate, trains the learner task by task from a table
// of methods it is given, evaluates every task after every task into the
// accuracy matrix (several inference runs for rules with stochastic
// inference), computes the metrics (package results/metrics), and hands each
// finished unit to its Observers. Checkpoints let a stopped run go on,
// bit for bit.
//
// Package harness imports tasks, methods (the seam, not the catalog of
// rules: the table is a value, so tests run it with fakes) and metrics;
// not results or any display: the store's gate and recorder and the
// progress display are in harness/observe, the Slurm job array in
// harness/slurm, and the command line wires them.
package harness
