package tasks

import (
	"fmt"
	"math"
	"strings"
)

// Pixel treatments of StreamConfig.Pixels.
const (
	// PixelsRaw feeds the values as the dataset gives them ([0, 1]).
	PixelsRaw = "raw"
	// PixelsStandard standardises every channel to mean 0 and standard
	// deviation 1 by the statistics of the first task's training set.
	PixelsStandard = "standard"
)

// PixelTreatments lists the values StreamConfig.Pixels accepts.
func PixelTreatments() []string { return []string{PixelsRaw, PixelsStandard} }

func checkPixels(p string) error {
	switch p {
	case "", PixelsRaw, PixelsStandard:
		return nil
	}
	return fmt.Errorf("pixels %q: want %s", p, strings.Join(PixelTreatments(), " or "))
}

// ChannelStats returns the mean and standard deviation (population, over
// every example and position) of each channel of s. A channel with no
// spread gets standard deviation 1, so that standardising it only centres it.
func ChannelStats(s Set) (mean, std []float64) {
	c, plane := s.Shape.C, s.Shape.H*s.Shape.W
	mean, std = make([]float64, c), make([]float64, c)
	sum, sq := make([]float64, c), make([]float64, c)
	for i := range s.Len() {
		row := s.Row(i)
		for ch := range c {
			for _, v := range row[ch*plane : (ch+1)*plane] {
				sum[ch] += float64(v)
				sq[ch] += float64(v) * float64(v)
			}
		}
	}
	n := float64(s.Len() * plane)
	for ch := range c {
		mean[ch] = sum[ch] / n
		v := sq[ch]/n - mean[ch]*mean[ch]
		std[ch] = 1
		if v > 1e-12 {
			std[ch] = math.Sqrt(v)
		}
	}
	return mean, std
}

// Standardize returns a copy of s with every channel ch mapped to
// (x − mean[ch]) / std[ch].
func Standardize(s Set, mean, std []float64) Set {
	plane := s.Shape.H * s.Shape.W
	out := Set{X: make([]float32, len(s.X)), Y: s.Y, Shape: s.Shape}
	d := s.Shape.Size()
	for i, v := range s.X {
		ch := (i % d) / plane
		out.X[i] = float32((float64(v) - mean[ch]) / std[ch])
	}
	return out
}

// standardizeStream applies PixelsStandard to every task of s, with the
// first task's training statistics: a learner meets its inputs scaled as
// the usual practice does, from data it has, and nothing of later tasks
// (in a joint stream, the first task is the whole training set).
func standardizeStream(s *Stream) {
	mean, std := ChannelStats(s.Tasks[0].Train)
	s.Choices.PixelMean, s.Choices.PixelStd = mean, std
	for k := range s.Tasks {
		s.Tasks[k].Train = Standardize(s.Tasks[k].Train, mean, std)
		s.Tasks[k].Test = Standardize(s.Tasks[k].Test, mean, std)
	}
}
