// Package harness joins streams and learners: a Spec names a method, its
// settings, a stream, a scenario and a seed; Run trains the learner task by
// task, evaluates every task after every task into the accuracy matrix, and
// hands each finished unit to its Recorders (the results store, progress
// output). The metric formulas over the accuracy matrix live here too.
//
// Package harness imports tasks, methods and results; nothing imports it but
// the command line.
package harness
