// Package harness joins streams and learners: a Spec names a method, its
// settings, a stream, a scenario and a seed; a Sweep expands a study into
// Specs, checking every part before any work starts; a Runner trains the
// learner task by task from a table of methods it is given, evaluates every
// task after every task into the accuracy matrix (several inference runs for
// rules with stochastic inference), and hands each finished unit to its
// Observers (the results store, progress output). The metric formulas over
// the accuracy matrix live here too.
//
// Package harness imports tasks, methods (the seam, not the catalog of
// rules: the table is a value, so tests run it with fakes) and results;
// nothing imports it but the command line.
package harness
