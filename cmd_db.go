package main

import (
	"errors"
	"fmt"

	"github.com/noprop/noprop/results"
)

// readResults opens a results database for a command that only reads it.
func readResults(path string) (*results.Store, error) {
	store, err := results.OpenReadOnly(path)
	if errors.Is(err, results.ErrNoResults) {
		return nil, fmt.Errorf("%w; run `noprop run` first, or name a database with --db", err)
	}
	return store, err
}
