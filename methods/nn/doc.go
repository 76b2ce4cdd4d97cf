// Package nn holds the layer vocabulary every learning rule is built from:
// a float32 row-major Matrix; layers (Linear, Conv2D, the activations,
// pooling, dropout, BatchNorm1D, LayerNorm, the sinusoidal TimeEmbedding),
// the composites that join them (Sequential, Concat2, Residual, the
// SoftmaxMix output stage), losses (SoftmaxCrossEntropy, MSE), optimizers,
// initialisers and a seeded random source. A rule is a way of training
// these pieces, not a copy of them.
//
// Every layer has three abilities:
//
//   - reverse mode, Forward and Backward (Layer), for back-propagation
//     within whatever span a rule propagates;
//   - forward mode, ForwardTangent (TangentLayer), the Jacobian-vector
//     product along an input direction and the parameters' Tangent, for
//     forward-gradient learning (weight or activity perturbation);
//   - weight sharing, Share (Sharer): a twin with the same parameters and
//     buffers of its own, for rules that run two passes through one network
//     (Forward-Forward's positive and negative data, target propagation's
//     reconstructions).
//
// Matrix products go through gonum's blas32 interface, so the kernel behind
// them (see methods/nn/gemm) can change without touching any layer. Layers own
// their buffers: a training step allocates nothing once the batch size has
// been seen.
//
// Package nn imports nothing of tasks, harness or results.
package nn
