package noprop

import (
	"fmt"
	"math"
	"testing"

	"github.com/noprop/noprop/methods/nn"
	"github.com/noprop/noprop/tasks"
)

// testBlockConfig is the paper's block for an input shape and embedding.
func testBlockConfig(in tasks.Shape, e *Embedding, encoder string) blockConfig {
	return blockConfig{input: in, embed: e, encoder: encoder, hidden: 256,
		dropout: 0.2, bnMomentum: 0.1, init: nn.InitPyTorch}
}

// TestBlockParamCount checks one conv block's parameter count against the
// recount of the paper's Table 5 (docs/methods.md §3.3), to its 3 significant
// digits, and pins the exact counts.
func TestBlockParamCount(t *testing.T) {
	mnist := tasks.Shape{C: 1, H: 28, W: 28}
	cifar := tasks.Shape{C: 3, H: 32, W: 32}
	proto := func(m, d int) *Embedding {
		return &Embedding{Kind: EmbedPrototype, M: m, D: d, W: nn.NewParam("embed", false, m, d)}
	}
	cases := []struct {
		name  string
		in    tasks.Shape
		embed *Embedding
		table float64 // Table 5 recount, millions
		exact int
	}{
		{"MNIST one-hot", mnist, NewOneHot(10), 0.920, 919946},
		{"MNIST dim=20", mnist, NewLearnedEmbedding(10, 20, nn.NewRNG(1)), 0.923, 922506},
		{"MNIST prototype", mnist, proto(10, 784), 1.402, 1401738},
		{"CIFAR-10 one-hot", cifar, NewOneHot(10), 1.215, 1215434},
		{"CIFAR-100 one-hot", cifar, NewOneHot(100), 1.250, 1250084},
	}
	for _, c := range cases {
		b := newBlock(testBlockConfig(c.in, c.embed, EncoderConv), nn.NewRNG(1))
		n := b.NumParams()
		got := float64(n) / 1e6
		if math.Abs(got-c.table) > 0.0005 {
			t.Errorf("%s: %d parameters = %.3fM, Table 5 recount %.3fM", c.name, n, got, c.table)
		}
		if n != c.exact {
			t.Errorf("%s: %d parameters, want %d", c.name, n, c.exact)
		}
		if testing.Verbose() {
			fmt.Printf("%-18s %d (%.3fM)\n", c.name, n, got)
		}
	}
}
