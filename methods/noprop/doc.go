// Package noprop implements NoProp (Li, Teh & Pascanu 2025, arXiv:2503.24322)
// as learners of the harness: the discrete-time variant NoProp-DT, the
// continuous-time variants NoProp-CT (ct.go) and NoProp-FM (fm.go), and the
// paper's two back-propagation baselines, backprop-dt (backpropdt.go: the
// same T blocks chained z_t = (1−α_t) z_{t−1} + α_t û_t and trained end to
// end) and the Adjoint (adjoint.go: a neural ODE over the continuous-time
// network, trained through its solver).
//
// NoProp-DT trains T blocks û_θt(z_{t−1}, x) without back-propagating
// between them: block t learns to predict the class embedding u_y from the
// image x and a noisy version z_{t−1} ~ N(√ᾱ_{t−1} u_y, (1−ᾱ_{t−1}) I) of it,
// weighted by the step in signal-to-noise ratio (Eq. 8, Algorithm 1). At
// inference the blocks run as a diffusion chain from z_0 ~ N(0, I) (Eq. 3)
// and a linear head classifies z_T.
//
// NoProp-CT trains one network û_θ(z_t, x, t) over t ∈ [0, 1] on the same
// denoising target, weighted by the derivative of a learned signal-to-noise
// schedule (Eq. 9, Algorithm 2, App. B; ctschedule.go), and infers with the
// Eq. 3 update on an N-step grid. NoProp-FM trains the same network as the
// vector field of a flow from noise to the class embedding (Eq. 10–13,
// Algorithm 3) and infers with N Euler steps and the nearest embedding.
// Their network (ctnet.go, Figure 5 right) computes the image features once
// per example along a chain, so inference costs the z and t paths per step.
//
// The family shares its pieces: the network settings (settings.go: Network,
// and Continuous in continuous.go), the image stack and the block
// (block.go, with the softmax·W_Embed glue in glue.go), the schedules
// (schedule.go, ctschedule.go), the class embeddings (embed.go), the head
// (head.go), the chunked scoring loop (learner.go) and, for every rule, the
// training scaffold methods.Trainer. Settings carry every hyper-parameter
// with the paper's value or our documented choice where the paper is
// silent; the continuous-time rules' choices are documented on their
// settings (CTSettings, ScheduleSettings, FMSettings, AdjointSettings).
//
// NoProp-DT's choices on the points the paper leaves open (docs/methods.md §9):
//   - Schedule: the concrete cosine schedule of docs/methods.md §7 (CosineSchedule).
//   - Algorithm 1's typo: z_{t−1}, not z_t, is sampled for block t.
//   - Optimizer: one AdamW state per parameter, i.e. per block; θ_out and
//     W_Embed are updated on every minibatch of every block's pass, as
//     Algorithm 1 says (sequential order).
//   - The gradient of a learned W_Embed is that of Eq. 8 in full, including
//     the pathwise terms through the sampled z_{t−1} and z_T.
//   - Posterior head σ = 1; inference averages nothing by default (one chain
//     per prediction; the paper's 5 inference runs are separate evaluations,
//     see DTLearner.SetInferenceSeed).
//   - Prototype embeddings are searched on a seeded subset of 256 images per
//     class; learned embeddings with m > d start as N(0, 1/d).
//   - Weight initialisation and BatchNorm momentum are PyTorch's defaults;
//     pixels are as the stream gives them: by default as the data set
//     does (MNIST: [0, 1]); run --pixels standard standardises every
//     channel by the first task's training statistics, for every rule.
//   - Continual learning: the active outputs mask the head's CE and (by
//     default) the blocks' output softmax; inference masks the blocks'
//     softmax to the outputs ever active.
//
// The continuous-time rules' choices (docs/methods.md §9), each a setting:
//   - The learned schedule (§9.2): γ̃ is 1 → 1024 sigmoid units → 1 plus a
//     linear skip, positive weights by absolute value (VDM's); initial
//     γ_0 = −4, γ_1 = 4; its own optimizer of the network's kind, lr 1e-3,
//     no weight decay; gradients through SNR′ and, reparameterised, through
//     the sampled z_t and z_1 and the KL's ᾱ(0).
//   - CT inference (§9.3): the ancestral Eq. 3 update on the grid
//     t_k = k/N, N = 1000; FM and the Adjoint: Euler, N = 1000.
//   - σ of the FM path (§9.4): 0.1. FM's η weights its flow term against
//     the anchor cross-entropy: 1, the paper's unweighted sum (CIFAR-100
//     with learned embeddings needs less; README).
//   - The time embedding (§9.5): the 64-d DDPM sinusoid of 1000·t; pixels
//     as the stream gives them (--pixels).
//   - Optimizer (§9.6): Adam with weight decay 1e-3 added to the gradient
//     for CT and FM (Table 4 says Adam), AdamW for the Adjoint.
//   - The Adjoint is trained by back-propagation through its discretised
//     solver (the exact gradient of the Euler solve), not by the adjoint
//     method; image features once per minibatch; z_0 ~ N(0, I).
//
// Package noprop builds on methods and methods/nn and reads data through
// tasks; it imports nothing of harness or results.
package noprop
