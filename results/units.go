package results

import (
	"context"
	"fmt"
	"time"
)

// UnitStatus is where a unit (a configuration and seed) stands.
type UnitStatus int

// The statuses UnitStates reports.
const (
	// Pending: no store holds a done run of the unit, and no live owner
	// trains it.
	Pending UnitStatus = iota
	// Done: the main store holds a done run of the unit (of its current
	// rerun generation).
	Done
	// DoneElsewhere: another of the stores holds a done run of the unit
	// and the main store does not: it is done but not merged.
	DoneElsewhere
	// Running: a live owner trains the unit now (UnitState.Holder), in
	// one of the stores.
	Running
)

func (s UnitStatus) String() string {
	switch s {
	case Pending:
		return "pending"
	case Done:
		return "done"
	case DoneElsewhere:
		return "done, not merged"
	case Running:
		return "running"
	}
	return fmt.Sprintf("UnitStatus(%d)", int(s))
}

// UnitState is what the stores hold of one unit.
type UnitState struct {
	Unit
	Status UnitStatus
	// RunID is the done run (Done, DoneElsewhere) or the live holder's
	// run (Running).
	RunID string
	// Where is the path of the store that holds RunID.
	Where string
	// Holder is the live run (Running); Reason says why its owner counts
	// as alive.
	Holder Run
	Reason string
}

// UnitStates reports the state of each unit in main and the other stores
// (the merged study beside its shards' databases, say): done in main;
// else done in another store (not merged); else held by a live owner in
// any of them; else pending. An owner counts as alive unless its
// heartbeat is older than staleAfter (0: DefaultStaleAfter) or it can be
// told gone (see Liveness). main may be nil (no database yet). It is the
// one answer run, plan and slurm give about a study's units.
func UnitStates(ctx context.Context, main *Store, others []*Store, units []Unit, staleAfter time.Duration) ([]UnitState, error) {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	stores := others
	if main != nil {
		stores = append([]*Store{main}, others...)
	}
	now := time.Now()
	out := make([]UnitState, len(units))
	for i, u := range units {
		st := UnitState{Unit: u}
		for k, s := range stores {
			id, ok, err := s.FindDone(ctx, u.ConfigHash, u.Seed)
			if err != nil {
				return nil, err
			}
			if ok {
				st.Status, st.RunID, st.Where = Done, id, s.Path()
				if k > 0 || main == nil {
					st.Status = DoneElsewhere
				}
				break
			}
		}
		for _, s := range stores {
			if st.Status != Pending {
				break
			}
			holder, held, err := s.liveHolder(ctx, u, staleAfter, now)
			if err != nil {
				return nil, err
			}
			if held != "" {
				st.Status, st.RunID, st.Where, st.Holder, st.Reason = Running, holder.ID, s.Path(), holder, held
			}
		}
		out[i] = st
	}
	return out, nil
}

// liveHolder returns the unit's running claim and why its owner counts as
// alive, or "" when no live owner holds it.
func (s *Store) liveHolder(ctx context.Context, u Unit, staleAfter time.Duration, now time.Time) (Run, string, error) {
	if s.version < versionOwners {
		return Run{}, "", nil
	}
	r, held, err := runningClaim(ctx, s.db, s.version, u.ConfigHash, u.Seed)
	if err != nil {
		return Run{}, "", fmt.Errorf("unit (config %s, seed %d): %w", u.ConfigHash, u.Seed, err)
	}
	if !held {
		return Run{}, "", nil
	}
	if state, why := Liveness(r, staleAfter, now); state != OwnerGone {
		return r, why, nil
	}
	return Run{}, "", nil
}
