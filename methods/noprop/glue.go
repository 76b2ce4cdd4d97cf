package noprop

import "github.com/noprop/noprop/methods/nn"

// The block's composites (a two-input concatenation, a residual add and the
// output stage) live in methods/nn, where other rules use them too. This
// file binds the output stage to a class embedding.

// EmbedOutput is the block's output stage û = softmax(logits)·W_Embed
// (paper §2.3.2), a convex combination of class embeddings: an
// nn.SoftmaxMix over Embed's matrix, the softmax itself for the one-hot
// embedding (W_Embed = I). The softmax may be restricted to a set of active
// outputs (the others get probability 0).
type EmbedOutput struct {
	Embed *Embedding

	mix nn.SoftmaxMix
}

// bound returns the output stage for the current embedding.
func (o *EmbedOutput) bound() *nn.SoftmaxMix {
	o.mix.W, o.mix.Identity = o.Embed.W, o.Embed.Kind == EmbedOneHot
	return &o.mix
}

// Forward returns û for logits (rows × m). mask, when non-nil, marks the
// outputs that take part in the softmax; at least one must be set.
func (o *EmbedOutput) Forward(logits nn.Matrix, mask []bool) nn.Matrix {
	return o.bound().Forward(logits, mask)
}

// Probs is the softmax of the last Forward (rows × m, owned by o).
func (o *EmbedOutput) Probs() nn.Matrix { return o.mix.Probs() }

// Backward returns dL/dlogits for dL/dû = du. When embGrad is non-nil (an
// m×d matrix) and the embedding is learned, pᵀ·du is added into it: the
// gradient of û with respect to W_Embed.
func (o *EmbedOutput) Backward(du nn.Matrix, embGrad []float32) nn.Matrix {
	return o.bound().Backward(du, embGrad)
}

// mixer is the output stage's softmax·W layer.
func (o *EmbedOutput) mixer() *nn.SoftmaxMix { return &o.mix }
