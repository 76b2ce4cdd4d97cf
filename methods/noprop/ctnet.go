package noprop

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// netConfig is what the continuous-time network is built from.
type netConfig struct {
	input   tasks.Shape
	embed   *Embedding
	encoder string
	hidden  int
	timeDim int
	dropout float32
	init    nn.Init
	// linear ends the network in logits·W_Embed (NoProp-FM's vector field,
	// the Adjoint's ODE) instead of softmax(logits)·W_Embed (NoProp-CT).
	linear bool
	// zGrad makes the network compute dL/dz (a learned embedding's or the
	// learned schedule's pathwise gradient through the sampled z_t, the
	// Adjoint's chain).
	zGrad bool
	// noZDropout builds the prototype z path's conv stack without dropout
	// (the Adjoint recomputes each solver step in its backward pass and
	// needs the same activations).
	noZDropout bool
}

// Net is the one network of NoProp-CT and NoProp-FM, û_θ(z_t, x, t) or
// v_θ(z_t, x, t), shared by every t (Figure 5, right; docs/methods.md §3.2), and
// the vector field of the Adjoint baseline:
//
//	image x:  conv32 3×3, ReLU, maxpool 2×2, dropout; conv64 3×3, ReLU,
//	          dropout; conv128 3×3, ReLU, maxpool 2×2, dropout; flatten;
//	          FC(hidden); ReLU                   (encoder "conv")
//	          FC(hidden); ReLU                   (encoder "mlp")
//	label z:  FC(hidden); ReLU (prototype embedding: z is an image and takes
//	          a second, separate copy of the image path instead)
//	time t:   sinusoidal embedding (timeDim, nn.TimeEmbedding); FC(hidden);
//	          ReLU
//	fusion:   concat (3·hidden); FC(hidden), ReLU; FC(hidden/2), ReLU; FC(m)
//	output:   softmax(logits)·W_Embed (CT) or logits·W_Embed (FM, Adjoint)
//
// There is no BatchNorm anywhere. Forward and Backward are the network for
// a minibatch whose rows have their own t (training CT and FM).
//
// Along a chain (inference, and the Adjoint's solver) the image features
// do not change with z or t, and neither does their share of the first
// fusion layer: with that layer's weight split by its input blocks,
// W = [W_x; W_z; W_t],
//
//	pre = [f_x | f_z | f_t]·W + b = (f_x·W_x + b) + f_z·W_z + f_t·W_t.
//
// Prepare computes f_x·W_x + b once per example; Step then runs only the z
// and t paths and the rest of the fusion, with the time path computed once
// per step for all rows (they share t). With the paper's conv network on
// MNIST this is about a fortieth of the work of the whole network per step.
// StepBackward and PrepareBackward are the reverse of Step and Prepare, for
// back-propagating through a chain.
type Net struct {
	img, lab, tpath nn.Layer
	temb            *nn.TimeEmbedding
	inner, outer    nn.Concat2    // [img(x) | lab(z)], then [that | tpath(emb(t))]
	fuse            nn.Sequential // FC(3h→h), ReLU, FC(h→h/2), ReLU, FC(h/2→m)
	first           *nn.Linear    // fuse's first layer
	rest            nn.Sequential // fuse after its first layer
	soft            EmbedOutput
	lin             nn.LinearMix
	linear, zGrad   bool
	hidden          int
	params          []*nn.Param

	// Chain state: feat is the image features of Prepare (owned by the
	// image path), pimg = feat·W_x + b, dpimg its accumulated gradient; zf
	// and tf the z and t features of the last Step (owned by their paths).
	feat, pimg, dpimg nn.Matrix
	zf, tf            nn.Matrix
	tcol, ptime, pre  nn.Matrix
	dzf, dtf, dfeat   nn.Matrix
	colSum            nn.Matrix
}

// newNet builds the network with weights drawn from rng: one stream for the
// initialisation (image path, z path, time path, fusion, in that order),
// split streams for the dropout layers.
func newNet(cfg netConfig, rng *nn.RNG) *Net {
	m, d, h := cfg.embed.M, cfg.embed.D, cfg.hidden
	init := rng.Split("init")
	img := &nn.Sequential{Layers: append(imageStack(cfg.encoder, cfg.input, h, cfg.dropout, cfg.init, true, init, rng.Split("image")), &nn.ReLU{})}
	var lab nn.Layer
	if cfg.embed.Kind == EmbedPrototype {
		p := cfg.dropout
		if cfg.noZDropout {
			p = 0
		}
		lab = &nn.Sequential{Layers: append(imageStack(cfg.encoder, cfg.input, h, p, cfg.init, !cfg.zGrad, init, rng.Split("label")), &nn.ReLU{})}
	} else {
		fc := nn.NewLinear(d, h, cfg.init, init)
		fc.NoInputGrad = !cfg.zGrad
		lab = &nn.Sequential{Layers: []nn.Layer{fc, &nn.ReLU{}}}
	}
	tfc := nn.NewLinear(cfg.timeDim, h, cfg.init, init)
	tfc.NoInputGrad = true // t is not learned
	tpath := &nn.Sequential{Layers: []nn.Layer{tfc, &nn.ReLU{}}}
	first := nn.NewLinear(3*h, h, cfg.init, init)
	n := &Net{
		img:    img,
		lab:    lab,
		tpath:  tpath,
		temb:   nn.NewTimeEmbedding(cfg.timeDim),
		inner:  nn.Concat2{A: img, B: lab},
		outer:  nn.Concat2{A: &nn.Sequential{}, B: tpath}, // the empty Sequential passes [img | lab] through
		first:  first,
		soft:   EmbedOutput{Embed: cfg.embed},
		lin:    nn.LinearMix{W: cfg.embed.W, Identity: cfg.embed.Kind == EmbedOneHot},
		linear: cfg.linear,
		zGrad:  cfg.zGrad,
		hidden: h,
	}
	n.rest = nn.Sequential{Layers: []nn.Layer{
		&nn.ReLU{},
		nn.NewLinear(h, h/2, cfg.init, init), &nn.ReLU{},
		nn.NewLinear(h/2, m, cfg.init, init),
	}}
	n.fuse = nn.Sequential{Layers: append([]nn.Layer{first}, n.rest.Layers...)}
	n.params = append(append(n.inner.Params(), n.outer.Params()...), n.fuse.Params()...)
	return n
}

// Params lists θ: image path, z path, time path, fusion. W_Embed is not
// among them.
func (n *Net) Params() []*nn.Param { return n.params }

// NumParams is the number of trainable values of the network, the count of
// the paper's Table 5 (CT column).
func (n *Net) NumParams() int { return nn.CountParams(n.params) }

// Probs is the output softmax of the last CT pass (rows × m).
func (n *Net) Probs() nn.Matrix { return n.soft.Probs() }

// output is the output stage on logits.
func (n *Net) output(logits nn.Matrix, mask []bool) nn.Matrix {
	if n.linear {
		return n.lin.Forward(logits)
	}
	return n.soft.Forward(logits, mask)
}

// outputBackward is the output stage's backward pass; the gradient with
// respect to W_Embed goes into embGrad (nil to skip).
func (n *Net) outputBackward(du nn.Matrix, embGrad []float32) nn.Matrix {
	if n.linear {
		if n.lin.Identity {
			embGrad = nil
		}
		return n.lin.Backward(du, embGrad)
	}
	return n.soft.Backward(du, embGrad)
}

// Forward returns the network's output (rows × d) for images x, latents z
// and times t (rows × 1, each row its own t). mask, when non-nil, restricts
// CT's output softmax to the marked classes. The result is owned by the
// network; x, z and t must stay unchanged until Backward.
func (n *Net) Forward(x, z, t nn.Matrix, mask []bool, train bool) nn.Matrix {
	te := n.temb.Forward(t, train)
	f := n.outer.Forward(n.inner.Forward(x, z, train), te, train)
	return n.output(n.fuse.Forward(f, train), mask)
}

// Backward takes dL/d(output) of the last Forward, adds the gradients of θ
// into Params and that of W_Embed into embGrad (m×d; nil to skip), and
// returns dL/dz (empty unless the network was built to compute it).
func (n *Net) Backward(du nn.Matrix, embGrad []float32) nn.Matrix {
	df := n.fuse.Backward(n.outputBackward(du, embGrad))
	da, _ := n.outer.Backward(df)
	_, dz := n.inner.Backward(da)
	if !n.zGrad {
		return nn.Matrix{}
	}
	return dz
}

// firstBlock views rows [k·h, (k+1)·h) of the first fusion layer's weight
// (k = 0: the image block W_x, 1: W_z, 2: W_t), or of its gradient.
func (n *Net) firstBlock(k int, grad bool) nn.Matrix {
	h := n.hidden
	data := n.first.W.Value
	if grad {
		data = n.first.W.Grad
	}
	return nn.Matrix{Rows: h, Cols: h, Data: data[k*h*h : (k+1)*h*h]}
}

// Prepare starts a chain over the images x: it runs the image path once
// and keeps feat·W_x + b for every Step that follows. With train set the
// image path runs in training mode (one dropout mask per example for the
// whole chain) and PrepareBackward may follow. x must stay unchanged until
// then.
func (n *Net) Prepare(x nn.Matrix, train bool) {
	n.feat = n.img.Forward(x, train)
	rows, h := x.Rows, n.hidden
	n.pimg = nn.Resize(n.pimg, rows, h)
	for i := range rows {
		copy(n.pimg.Row(i), n.first.B.Value)
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, n.feat.General(), n.firstBlock(0, false).General(), 1, n.pimg.General())
	if train {
		n.dpimg = nn.Resize(n.dpimg, rows, h)
		clear(n.dpimg.Data)
	}
}

// Step returns the network's output for latents z at time t (the same t
// for every row) on the images of the last Prepare: only the z and t paths
// and the fusion after its first product run. The result is owned by the
// network and valid until the next Step or Forward.
func (n *Net) Step(z nn.Matrix, t float64, mask []bool, train bool) nn.Matrix {
	rows, h := z.Rows, n.hidden
	n.zf = n.lab.Forward(z, train)
	n.tcol = nn.Resize(n.tcol, 1, 1)
	n.tcol.Data[0] = float32(t)
	n.tf = n.tpath.Forward(n.temb.Forward(n.tcol, train), train)
	n.ptime = nn.Resize(n.ptime, 1, h)
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, n.tf.General(), n.firstBlock(2, false).General(), 0, n.ptime.General())
	n.pre = nn.Resize(n.pre, rows, h)
	pt := n.ptime.Data
	for i := range rows {
		dst, src := n.pre.Row(i), n.pimg.Row(i)
		for j, v := range src {
			dst[j] = v + pt[j]
		}
	}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, n.zf.General(), n.firstBlock(1, false).General(), 1, n.pre.General())
	return n.output(n.rest.Forward(n.pre, train), mask)
}

// StepBackward takes dL/d(output) of the last Step (run with train set),
// adds the gradients of the z and t paths, the fusion and W_Embed (into
// embGrad, nil to skip) and accumulates the gradient of the image share for
// PrepareBackward. It returns dL/dz, which needs a network built with zGrad.
func (n *Net) StepBackward(du nn.Matrix, embGrad []float32) nn.Matrix {
	dpre := n.rest.Backward(n.outputBackward(du, embGrad))
	rows, h := dpre.Rows, n.hidden
	addInto(n.dpimg.Data, dpre.Data, 1)
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, n.zf.General(), dpre.General(), 1, n.firstBlock(1, true).General())
	// Every row shares t: the time path sees the column sums.
	n.colSum = nn.Resize(n.colSum, 1, h)
	clear(n.colSum.Data)
	for i := range rows {
		addInto(n.colSum.Data, dpre.Row(i), 1)
	}
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, n.tf.General(), n.colSum.General(), 1, n.firstBlock(2, true).General())
	n.dtf = nn.Resize(n.dtf, 1, h)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, n.colSum.General(), n.firstBlock(2, false).General(), 0, n.dtf.General())
	n.tpath.Backward(n.dtf)
	n.dzf = nn.Resize(n.dzf, rows, h)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, dpre.General(), n.firstBlock(1, false).General(), 0, n.dzf.General())
	return n.lab.Backward(n.dzf)
}

// PrepareBackward back-propagates the image share's gradient accumulated
// by the StepBackward calls since the last Prepare through W_x, b and the
// image path.
func (n *Net) PrepareBackward() {
	rows, h := n.dpimg.Rows, n.hidden
	blas32.Gemm(blas.Trans, blas.NoTrans, 1, n.feat.General(), n.dpimg.General(), 1, n.firstBlock(0, true).General())
	for i := range rows {
		addInto(n.first.B.Grad, n.dpimg.Row(i), 1)
	}
	n.dfeat = nn.Resize(n.dfeat, rows, h)
	blas32.Gemm(blas.NoTrans, blas.Trans, 1, n.dpimg.General(), n.firstBlock(0, false).General(), 0, n.dfeat.General())
	n.img.Backward(n.dfeat)
}

// VisitState visits θ and the network's extra state (its dropout streams).
func (n *Net) VisitState(v nn.StateVisitor, name string) {
	nn.VisitParams(v, name, n.params)
	nn.VisitExtraState(v, name+"/inner", &n.inner)
	nn.VisitExtraState(v, name+"/outer", &n.outer)
	nn.VisitExtraState(v, name+"/fuse", &n.fuse)
}
