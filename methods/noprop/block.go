package noprop

import (
	"fmt"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// The conv stack of Figure 5 (docs/methods.md §3.1): 3×3 valid convolutions with
// these channel counts; max-pooling after the first and the third.
const (
	convKernel = 3
	convCh1    = 32
	convCh2    = 64
	convCh3    = 128
)

// minConvSize is the smallest image side the conv stack accepts: side →
// side−2 → /2 → −2 → −2 → /2 must leave at least 1.
const minConvSize = 14

// blockConfig is what a block is built from.
type blockConfig struct {
	input      tasks.Shape
	embed      *Embedding
	encoder    string
	hidden     int
	dropout    float32
	bnMomentum float32
	init       nn.Init
	// zGrad makes the label path compute its input gradient, for the
	// pathwise gradient of a learned W_Embed through z_{t−1}.
	zGrad bool
}

// Block is one û_θt(z_{t−1}, x) of NoProp-DT, drawn in Figure 5 (left) and
// docs/methods.md §3.1:
//
//	image x:  conv32 3×3, ReLU, maxpool 2×2, dropout; conv64 3×3, ReLU,
//	          dropout; conv128 3×3, ReLU, maxpool 2×2, dropout; flatten;
//	          FC(hidden); BN                      (encoder "conv")
//	          FC(hidden); BN                      (encoder "mlp")
//	label z:  h = ReLU(BN(FC_hidden(z))); FC, BN, ReLU, FC, BN; + h
//	          (prototype embedding: z is an image and takes a second,
//	          separate copy of the image path instead)
//	fusion:   concat (2·hidden); FC(hidden), BN, ReLU; FC(hidden/2), BN,
//	          ReLU; FC(m)
//	output:   û = softmax(logits)·W_Embed
//
// Every block has its own weights; only W_Embed is shared.
type Block struct {
	cat  nn.Concat2
	fuse nn.Sequential
	out  EmbedOutput

	zGrad  bool
	params []*nn.Param
}

// newBlock builds a block with weights drawn from rng (one stream for the
// initialisation, split streams for the dropout layers).
func newBlock(cfg blockConfig, rng *nn.RNG) *Block {
	m, d, h := cfg.embed.M, cfg.embed.D, cfg.hidden
	init := rng.Split("init")
	img := imagePath(cfg, cfg.input, true, init, rng.Split("image"))
	var lab nn.Layer
	if cfg.embed.Kind == EmbedPrototype {
		lab = imagePath(cfg, cfg.input, !cfg.zGrad, init, rng.Split("label"))
	} else {
		first := nn.NewLinear(d, h, cfg.init, init)
		first.NoInputGrad = !cfg.zGrad
		lab = &nn.Sequential{Layers: []nn.Layer{
			first, bn(h, cfg), &nn.ReLU{},
			&nn.Residual{Inner: &nn.Sequential{Layers: []nn.Layer{
				nn.NewLinear(h, h, cfg.init, init), bn(h, cfg), &nn.ReLU{},
				nn.NewLinear(h, h, cfg.init, init), bn(h, cfg),
			}}},
		}}
	}
	b := &Block{
		cat: nn.Concat2{A: img, B: lab},
		fuse: nn.Sequential{Layers: []nn.Layer{
			nn.NewLinear(2*h, h, cfg.init, init), bn(h, cfg), &nn.ReLU{},
			nn.NewLinear(h, h/2, cfg.init, init), bn(h/2, cfg), &nn.ReLU{},
			nn.NewLinear(h/2, m, cfg.init, init),
		}},
		out:   EmbedOutput{Embed: cfg.embed},
		zGrad: cfg.zGrad,
	}
	b.params = append(b.cat.Params(), b.fuse.Params()...)
	return b
}

// bn is a BatchNorm1D with the configured momentum.
func bn(n int, cfg blockConfig) *nn.BatchNorm1D {
	l := nn.NewBatchNorm1D(n)
	l.Momentum = cfg.bnMomentum
	return l
}

// imagePath is the discrete-time block's image branch for examples of the
// given shape: the image stack, then BN. noInputGrad skips the gradient with
// respect to the input (the data; or z when nothing needs its gradient).
func imagePath(cfg blockConfig, in tasks.Shape, noInputGrad bool, init, rng *nn.RNG) nn.Layer {
	layers := imageStack(cfg.encoder, in, cfg.hidden, cfg.dropout, cfg.init, noInputGrad, init, rng)
	return &nn.Sequential{Layers: append(layers, bn(cfg.hidden, cfg))}
}

// imageStack is the image path every network of the family starts with,
// up to and including its FC(hidden): the conv stack of Figure 5 (conv32,
// ReLU, pool, dropout; conv64, ReLU, dropout; conv128, ReLU, pool, dropout;
// flatten; FC) or, for the mlp encoder, the FC alone. The discrete-time
// block follows it with BN, the continuous-time network with ReLU. Weights
// are drawn from init in layer order, the dropout masks from streams split
// from rng.
func imageStack(encoder string, in tasks.Shape, h int, dropout float32, winit nn.Init, noInputGrad bool, init, rng *nn.RNG) []nn.Layer {
	if encoder == EncoderMLP {
		fc := nn.NewLinear(in.Size(), h, winit, init)
		fc.NoInputGrad = noInputGrad
		return []nn.Layer{fc}
	}
	if in.H < minConvSize || in.W < minConvSize {
		panic(fmt.Sprintf("noprop: conv encoder needs images of at least %d×%d, got %v", minConvSize, minConvSize, in))
	}
	c1 := nn.NewConv2D(in.C, in.H, in.W, convCh1, convKernel, winit, init)
	c1.NoInputGrad = noInputGrad
	p1 := nn.NewMaxPool2x2(c1.OutShape())
	c, hh, ww := p1.OutShape()
	c2 := nn.NewConv2D(c, hh, ww, convCh2, convKernel, winit, init)
	c, hh, ww = c2.OutShape()
	c3 := nn.NewConv2D(c, hh, ww, convCh3, convKernel, winit, init)
	p3 := nn.NewMaxPool2x2(c3.OutShape())
	c, hh, ww = p3.OutShape()
	flat := c * hh * ww
	// Each ReLU runs inside the layer that follows it (pool(relu(x)) =
	// relu(pool(x)), and relu then dropout is one element-wise pass), which
	// saves a pass over the large convolution outputs in each direction.
	// The second dropout works in place: Conv2D needs neither its output
	// nor its output gradient once Backward has run.
	p1.ReLU, p3.ReLU = true, true
	d2 := nn.NewDropout(dropout, rng.Split("dropout2"))
	d2.ReLU, d2.InPlace = true, true
	return []nn.Layer{
		nn.NewCHWToHWC(in.C, in.H, in.W),
		c1, p1, nn.NewDropout(dropout, rng.Split("dropout1")), // conv, ReLU, pool, dropout
		c2, d2, // conv, ReLU, dropout
		c3, p3, nn.NewDropout(dropout, rng.Split("dropout3")), // conv, ReLU, pool, dropout
		nn.NewLinear(flat, h, winit, init),
	}
}

// Params lists the block's own parameters (θ_t): image path, label path,
// fusion. W_Embed is not among them.
func (b *Block) Params() []*nn.Param { return b.params }

// NumParams is the number of trainable values of the block, the count of the
// paper's Table 5.
func (b *Block) NumParams() int { return nn.CountParams(b.params) }

// Forward returns û_θt(z, x) (rows × d) for images x and latents z. mask,
// when non-nil, restricts the output softmax to the marked classes. The
// result is owned by the block. x and z must stay unchanged until Backward.
func (b *Block) Forward(x, z nn.Matrix, mask []bool, train bool) nn.Matrix {
	f := b.cat.Forward(x, z, train)
	logits := b.fuse.Forward(f, train)
	return b.out.Forward(logits, mask)
}

// Probs is the output softmax of the last Forward (rows × m, owned by the
// block): the block's belief about the class.
func (b *Block) Probs() nn.Matrix { return b.out.Probs() }

// Image is the image path's output on x in evaluation mode, in a buffer
// the path owns (valid until its next call): it does not depend on z, so
// chains that score the same rows compute it once (ForwardImage).
func (b *Block) Image(x nn.Matrix) nn.Matrix { return b.cat.A.Forward(x, false) }

// ForwardImage is Forward in evaluation mode with the image path's output
// on x given (img, from Image); the result is the same, bit for bit.
func (b *Block) ForwardImage(img, z nn.Matrix, mask []bool) nn.Matrix {
	f := b.cat.ForwardB(img, z, false)
	logits := b.fuse.Forward(f, false)
	return b.out.Forward(logits, mask)
}

// Backward takes dL/dû, adds the gradients of θ_t into their Params, adds
// the output stage's gradient with respect to W_Embed into embGrad (m×d; nil
// to skip; a one-hot embedding has none) and returns dL/dz, which is empty
// unless the block was built to compute it.
func (b *Block) Backward(du nn.Matrix, embGrad []float32) nn.Matrix {
	dl := b.out.Backward(du, embGrad)
	df := b.fuse.Backward(dl)
	_, dz := b.cat.Backward(df)
	if !b.zGrad {
		return nn.Matrix{}
	}
	return dz
}

// VisitState visits the block's parameters and the state of its layers
// (BatchNorm statistics, dropout streams).
func (b *Block) VisitState(v nn.StateVisitor, name string) {
	nn.VisitParams(v, name, b.params)
	nn.VisitExtraState(v, name+"/cat", &b.cat)
	nn.VisitExtraState(v, name+"/fuse", &b.fuse)
}

// MoveScratch hands the block's layer buffers (activations, gradients,
// im2col columns) to to, a block of the same architecture: blocks that do
// not work at the same time share one set (see nn.MoveScratch).
func (b *Block) MoveScratch(to *Block) {
	nn.MoveScratch(&b.cat, &to.cat)
	nn.MoveScratch(&b.fuse, &to.fuse)
	nn.MoveScratch(b.out.mixer(), to.out.mixer())
}

// ScratchBytes is the memory held by the block's layer buffers.
func (b *Block) ScratchBytes() int {
	return nn.ScratchBytes(&b.cat) + nn.ScratchBytes(&b.fuse) + nn.ScratchBytes(b.out.mixer())
}

// carrier returns a twin of the block that shares its parameters and owns
// no buffers: a place for a set of layer buffers to wait while no block
// works (see DTLearner.lend).
func (b *Block) carrier() *Block {
	return &Block{
		cat:   *b.cat.Share(),
		fuse:  *nn.Share(&b.fuse).(*nn.Sequential),
		out:   EmbedOutput{Embed: b.out.Embed},
		zGrad: b.zGrad,
	}
}
