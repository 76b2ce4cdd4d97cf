package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

// BatchReport counts what RunAll did: runs finished, skipped as done,
// skipped because another live process trains them, failed, and
// interrupted (stopped by a signal: not failed; they resume).
type BatchReport struct {
	Ran, Skipped, Held, Failed, Interrupted int
}

// RunAll runs specs in order. A spec for which done reports true is skipped,
// so an interrupted batch resumes where it stopped when started again. A
// failed run does not stop the batch; a cancelled context or a SetupError
// (which would recur for every run) does. The returned
// error joins every run's error.
func (rn *Runner) RunAll(ctx context.Context, specs []Spec, done func(Spec) (bool, error)) (BatchReport, error) {
	var rep BatchReport
	var errs []error
	for i, s := range specs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if done != nil {
			ok, err := done(s)
			if err != nil {
				return rep, err
			}
			if ok {
				rep.Skipped++
				continue
			}
		}
		if _, err := rn.run(ctx, s, i+1, len(specs)); err != nil {
			if _, ok := errors.AsType[*SetupError](err); ok {
				return rep, err
			}
			if skip, ok := errors.AsType[*SkipError](err); ok {
				if rn.Log != nil {
					fmt.Fprintf(rn.Log, "== %s: %s, skipped\n", s.Label(), skip.Reason)
				}
				if skip.Held {
					rep.Held++
				} else {
					rep.Skipped++
				}
				continue
			}
			if _, ok := errors.AsType[*InterruptedError](err); ok {
				rep.Interrupted++
			} else {
				rep.Failed++
			}
			errs = append(errs, fmt.Errorf("%s: %w", s.Label(), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		rep.Ran++
	}
	return rep, errors.Join(errs...)
}

// Preload loads every dataset the specs name and builds each of their
// streams once, so that data that is missing, damaged or unusable for a
// stream (a class without examples) is refused before anything else
// happens; the command line calls it before it creates the database. The
// datasets stay in the Runner's cache for the runs.
func (rn *Runner) Preload(ctx context.Context, specs []Spec) error {
	built := map[string]bool{}
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return err
		}
		cfg := s.StreamConfig()
		cfg.Seed = 0 // whether a stream can be built does not depend on its seed
		key := fmt.Sprintf("%s %+v", s.Dataset, cfg)
		if built[key] {
			continue
		}
		if _, _, err := rn.stream(s); err != nil {
			return fmt.Errorf("%s: %w", s.Dataset, err)
		}
		built[key] = true
	}
	// The streams built here are garbage now (the datasets stay cached);
	// collecting it keeps it out of the first run's peak.
	runtime.GC()
	return nil
}
