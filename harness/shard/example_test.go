package shard_test

import (
	"fmt"
	"log"

	"github.com/noprop/noprop/harness/shard"
)

// Each job of a Slurm array (--array=0-2) runs the units of its shard; the
// three jobs together run every unit once.
func ExampleShard_Contains() {
	for i := range 3 {
		s, err := shard.Parse(fmt.Sprintf("%d/3", i))
		if err != nil {
			log.Fatal(err)
		}
		var mine []uint64
		for seed := uint64(1); seed <= 8; seed++ {
			if s.Contains("3f2a9c0d1b7e5a44", seed) {
				mine = append(mine, seed)
			}
		}
		fmt.Printf("shard %s: seeds %v\n", s, mine)
	}
	// Output:
	// shard 0/3: seeds [4]
	// shard 1/3: seeds [1 5 6 7 8]
	// shard 2/3: seeds [2 3]
}
