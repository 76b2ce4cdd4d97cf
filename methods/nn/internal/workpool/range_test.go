package workpool

import (
	"sync"
	"sync/atomic"
	"testing"
)

// counter counts how often each item is processed.
type counter struct{ seen []atomic.Int32 }

func (c *counter) Range(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.seen[i].Add(1)
	}
}

// TestRangeCoversEveryItemOnce: whatever the sizes and goroutines, each
// item is processed exactly once, and nested and concurrent calls finish.
func TestRangeCoversEveryItemOnce(t *testing.T) {
	for _, tc := range []struct{ n, minChunk, parts int }{
		{0, 1, 4}, {1, 1, 4}, {7, 1, 3}, {1000, 10, 2}, {1000, 600, 2}, {1000, 0, 8}, {12345, 100, 5},
	} {
		c := &counter{seen: make([]atomic.Int32, tc.n)}
		Range(tc.n, tc.minChunk, tc.parts, c)
		for i := range c.seen {
			if got := c.seen[i].Load(); got != 1 {
				t.Fatalf("n %d, minChunk %d, parts %d: item %d processed %d times", tc.n, tc.minChunk, tc.parts, i, got)
			}
		}
	}
	// Nested in concurrent outer calls: every inner item once per outer item.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inner := &counter{seen: make([]atomic.Int32, 200)}
			Range(50, 1, 4, nested{inner})
			for i := range inner.seen {
				if got := inner.seen[i].Load(); got != 50 {
					t.Errorf("inner item %d processed %d times, want 50", i, got)
				}
			}
		}()
	}
	wg.Wait()
}

// nested runs a Range over its counter for every item of its own.
type nested struct{ inner *counter }

func (n nested) Range(lo, hi int) {
	for range hi - lo {
		Range(len(n.inner.seen), 10, 4, n.inner)
	}
}

func TestCrew(t *testing.T) {
	var c Crew
	if c.Join() {
		t.Fatal("a zero Crew let a worker join")
	}
	c.Open()
	if !c.Join() || !c.Join() {
		t.Fatal("an open Crew turned a worker away")
	}
	go func() { c.Leave(); c.Leave() }()
	c.Close() // waits for both
	if left := c.done.Load(); left != 2 {
		t.Fatalf("Close returned when %d of the 2 joined workers had left", left)
	}
	if c.Join() {
		t.Fatal("a closed Crew let a worker join")
	}
}
