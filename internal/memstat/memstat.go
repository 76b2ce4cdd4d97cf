// Package memstat measures a piece of work's peak memory: the peak Go heap
// above the live heap when the measurement starts (sampled, since the
// runtime keeps no peak of its own) and the process's peak resident set. The
// harness measures every run with it; the memory benchmarks use it too.
package memstat

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sampler tracks a run's peak Go heap by sampling (the runtime keeps no
// peak of its own) and reads the process's peak RSS from the kernel.
//
// The heap figure is the peak above the live heap when training starts: the
// dataset and the stream are resident by then and would otherwise dominate,
// hiding what the learning rule itself needs. The RSS figure is the whole
// process's peak, data included.
type Sampler struct {
	done     chan struct{}
	wg       sync.WaitGroup
	baseline uint64
	peak     uint64
}

// memorySamplePeriod trades precision of the heap peak against overhead;
// reading the metric costs about a microsecond.
const memorySamplePeriod = 20 * time.Millisecond

// Start starts measuring.
func Start() *Sampler {
	// Reset the kernel's peak-RSS mark so VmHWM covers this run only; where
	// that is not allowed, the peak covers the process's life.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	m := &Sampler{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() {
		metrics.Read(sample)
		if v := sample[0].Value; v.Kind() == metrics.KindUint64 {
			m.peak = max(m.peak, v.Uint64())
		}
	}
	runtime.GC() // so garbage of earlier runs and of setup is not in the baseline
	read()
	m.baseline = m.peak
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(memorySamplePeriod)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	}()
	return m
}

// Stop ends the measurement and returns the peak heap above the live heap
// at Start, and the process's peak RSS (0 where the kernel does not tell).
func (m *Sampler) Stop() (peakHeap, peakRSS int64) {
	close(m.done)
	m.wg.Wait()
	return int64(m.peak - m.baseline), readPeakRSS()
}

// readPeakRSS reads VmHWM from /proc/self/status; 0 where it is unavailable.
func readPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return 0
}
