// Package noprop implements NoProp (Li, Teh & Pascanu 2025, arXiv:2503.24322)
// as a learner of the harness: for now the discrete-time variant NoProp-DT,
// and the paper's own discrete-time back-propagation baseline, backprop-dt
// (backpropdt.go): the same T blocks chained z_t = (1−α_t) z_{t−1} + α_t û_t
// and trained end to end.
//
// NoProp-DT trains T blocks û_θt(z_{t−1}, x) without back-propagating
// between them: block t learns to predict the class embedding u_y from the
// image x and a noisy version z_{t−1} ~ N(√ᾱ_{t−1} u_y, (1−ᾱ_{t−1}) I) of it,
// weighted by the step in signal-to-noise ratio (Eq. 8, Algorithm 1). At
// inference the blocks run as a diffusion chain from z_0 ~ N(0, I) (Eq. 3)
// and a linear head classifies z_T.
//
// The pieces are separate so that the continuous-time variants (CT, FM) can
// reuse them: the noise schedule (schedule.go), the class embeddings
// (embed.go), the block (block.go, with the concat/residual/softmax·W_Embed
// glue in glue.go), the head (head.go), and the training rule (learner.go).
// Settings (settings.go) carry every hyper-parameter with the paper's value
// or our documented choice where the paper is silent.
//
// Choices on the points the paper leaves open (docs: noprop.md §9):
//   - Schedule: the concrete cosine schedule of noprop.md §6 (CosineSchedule).
//   - Algorithm 1's typo: z_{t−1}, not z_t, is sampled for block t.
//   - Optimizer: one AdamW state per parameter, i.e. per block; θ_out and
//     W_Embed are updated on every minibatch of every block's pass, as
//     Algorithm 1 says (sequential order).
//   - The gradient of a learned W_Embed is that of Eq. 8 in full, including
//     the pathwise terms through the sampled z_{t−1} and z_T.
//   - Posterior head σ = 1; inference averages nothing by default (one chain
//     per prediction; the paper's 5 inference runs are separate evaluations,
//     see Learner.SetInferenceSeed).
//   - Prototype embeddings are searched on a seeded subset of 256 images per
//     class; learned embeddings with m > d start as N(0, 1/d).
//   - Weight initialisation and BatchNorm momentum are PyTorch's defaults;
//     pixels are used as the data set gives them (MNIST: [0, 1]).
//   - Continual learning: the active outputs mask the head's CE and (by
//     default) the blocks' output softmax; inference masks the blocks'
//     softmax to the outputs ever active.
//
// Package noprop builds on methods and methods/nn and reads data through
// tasks; it imports nothing of harness or results.
package noprop
