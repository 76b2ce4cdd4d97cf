// Package tasks holds the datasets and the task streams built from them:
// strict parsers for the idx and CIFAR binary formats, where each dataset
// lives on this machine, and the continual-learning streams (split by
// classes, permuted pixels, joint) with every random choice drawn from a seed
// and recorded, and the input treatment all learners share (raw pixels or
// channels standardised by the first task's statistics).
//
// Package tasks imports nothing of methods, harness or results.
package tasks
