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
	return channelStats(s.Shape, s.Len(), s.Row)
}

// channelStats is ChannelStats of n examples of the given shape, example i
// given by row(i) (which may reuse its slice), summed in the same order, so
// that a permuted task's statistics need not make its examples and are
// those of its made set to the last bit.
func channelStats(shape Shape, n int, row func(i int) []float32) (mean, std []float64) {
	c, plane := shape.C, shape.H*shape.W
	mean, std = make([]float64, c), make([]float64, c)
	sum, sq := make([]float64, c), make([]float64, c)
	for i := range n {
		r := row(i)
		for ch := range c {
			for _, v := range r[ch*plane : (ch+1)*plane] {
				sum[ch] += float64(v)
				sq[ch] += float64(v) * float64(v)
			}
		}
	}
	total := float64(n * plane)
	for ch := range c {
		mean[ch] = sum[ch] / total
		v := sq[ch]/total - mean[ch]*mean[ch]
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
// (in a joint stream, the first task is the whole training set). The
// statistics are those of the first task's examples as a learner gets them
// (a permuted task's: permuted, and padded with zeros for PermutedPadded),
// and every value is mapped by the channel of its place in that example.
// Split and joint tasks are standardised here, once; permuted tasks as
// their examples are made, with the same arithmetic (Examples.standardized).
func standardizeStream(s *Stream) {
	mean, std := s.Tasks[0].Train.stats()
	s.Choices.PixelMean, s.Choices.PixelStd = mean, std
	for k := range s.Tasks {
		s.Tasks[k].Train = s.Tasks[k].Train.standardized(mean, std)
		s.Tasks[k].Test = s.Tasks[k].Test.standardized(mean, std)
		if s.Tasks[k].Val.Len() > 0 {
			s.Tasks[k].Val = s.Tasks[k].Val.standardized(mean, std)
		}
	}
}
