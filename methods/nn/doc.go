// Package nn holds the building blocks every method is made of: a float32
// row-major Matrix, layers with forward and backward passes, losses,
// optimizers, initialisers and a seeded random source.
//
// Matrix products go through gonum's blas32 interface, so the kernel behind
// them (see methods/nn/gemm) can change without touching any layer. Layers own
// their buffers: a training step allocates nothing once the batch size has
// been seen.
//
// Package nn imports nothing of tasks, harness or results.
package nn
