package tasks

import (
	"fmt"
	"math/rand/v2"
)

// SyntheticConfig describes a generated dataset of Gaussian class blobs, for
// tests and examples that must not depend on files.
type SyntheticConfig struct {
	Classes  int
	TrainPer int     // training examples per class
	TestPer  int     // test examples per class
	Shape    Shape   // shape of one example
	Noise    float32 // standard deviation around each class mean
	Seed     uint64
}

// Synthetic generates a dataset: each class has a random mean in [0, 1] per
// value, and examples are the mean plus Gaussian noise. Examples are
// interleaved by class (0, 1, 2, ..., 0, 1, ...).
func Synthetic(cfg SyntheticConfig) (Dataset, error) {
	if cfg.Classes < 1 || cfg.TrainPer < 1 || cfg.TestPer < 1 || cfg.Shape.Size() < 1 {
		return Dataset{}, fmt.Errorf("synthetic dataset: classes, examples per class and shape must be positive, got %+v", cfg)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5171e71c))
	d := cfg.Shape.Size()
	means := make([]float32, cfg.Classes*d)
	for i := range means {
		means[i] = r.Float32()
	}
	gen := func(per int) Set {
		s := Set{X: make([]float32, per*cfg.Classes*d), Y: make([]int, per*cfg.Classes), Shape: cfg.Shape}
		for i := range s.Y {
			c := i % cfg.Classes
			s.Y[i] = c
			row := s.X[i*d : (i+1)*d]
			for j := range row {
				row[j] = means[c*d+j] + cfg.Noise*float32(r.NormFloat64())
			}
		}
		return s
	}
	ds := Dataset{Name: "synthetic", NumClasses: cfg.Classes, Train: gen(cfg.TrainPer), Test: gen(cfg.TestPer)}
	for c := range cfg.Classes {
		ds.ClassNames = append(ds.ClassNames, fmt.Sprintf("class %d", c))
	}
	return ds, nil
}
