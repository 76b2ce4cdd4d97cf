package results

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Heartbeat defaults: a claim beats every DefaultHeartbeatEvery, and one
// whose heartbeat is older than DefaultStaleAfter (ten missed beats) may be
// taken over.
const (
	DefaultHeartbeatEvery = 30 * time.Second
	DefaultStaleAfter     = 5 * time.Minute
)

// MinStaleAfter is the shortest stale age accepted: three heartbeat
// periods, so a live owner whose beat is merely late is never taken over.
const MinStaleAfter = 3 * DefaultHeartbeatEvery

// CheckStaleAfter refuses a stale age a live owner could exceed between
// two heartbeats, in the words of the flag that sets it.
func CheckStaleAfter(d time.Duration) error {
	if d < MinStaleAfter {
		return fmt.Errorf("--stale %s: want at least %s (three heartbeats of %s), or a live run could be taken over; the default is %s",
			d, MinStaleAfter, DefaultHeartbeatEvery, DefaultStaleAfter)
	}
	return nil
}

// ErrClaimLost is returned (wrapped) by Heartbeat when the claim is no
// longer the caller's: another process took it over, or the run has ended.
var ErrClaimLost = errors.New("claim lost")

// ClaimState is what Claim found.
type ClaimState int

// The outcomes of Claim.
const (
	// Claimed: the unit is the caller's to train, as run Claim.RunID.
	Claimed ClaimState = iota + 1
	// Held: a live owner trains the unit (Claim.Holder); skip it.
	Held
	// AlreadyDone: the unit has a done run of its current rerun
	// generation (Claim.RunID); skip it.
	AlreadyDone
)

func (c ClaimState) String() string {
	switch c {
	case Claimed:
		return "claimed"
	case Held:
		return "held"
	case AlreadyDone:
		return "already done"
	}
	return "ClaimState(" + strconv.Itoa(int(c)) + ")"
}

// ClaimOptions tunes Claim.
type ClaimOptions struct {
	// Owner claims the unit; the zero Owner means CurrentOwner(). Its
	// Token must not be empty.
	Owner Owner
	// StaleAfter is the heartbeat age after which a claim's owner counts
	// as gone; 0 means DefaultStaleAfter. It should be several heartbeat
	// intervals.
	StaleAfter time.Duration
}

// A Claim is the outcome of Store.Claim.
type Claim struct {
	State ClaimState
	// RunID is the caller's new run (Claimed), the holder's run (Held) or
	// the latest done run (AlreadyDone).
	RunID string
	// Token is the claiming owner's token (Claimed).
	Token string
	// Generation is the unit's rerun generation the run is for.
	Generation int
	// Holder is the running run that holds the unit (Held).
	Holder Run
	// Replaced is the stale claim that was taken over (Claimed): its run
	// and every row it recorded were deleted in the claiming transaction.
	// Its ID is empty when there was none.
	Replaced Run
	// Reason says why the holder looks alive (Held) or the replaced owner
	// gone (Claimed with Replaced).
	Reason string
}

// Claim claims the unit of r (r.ConfigHash and r.Seed) before training
// and, when it is free, starts r as its run, all in one transaction:
//
//   - When the unit is done (see FindDone), nothing is written and the
//     state is AlreadyDone.
//   - When a running claim of the unit exists and its owner is alive or
//     cannot be told gone (see Liveness), nothing is written and the state
//     is Held.
//   - Otherwise r is inserted as running, owned by opts.Owner, with a
//     heartbeat of now, for the unit's current rerun generation; the state
//     is Claimed. A claim whose owner is gone is taken over: its run and
//     every row it recorded are deleted in the same transaction, so rows
//     of two owners are never mixed.
//
// r is filled in as by StartRun. The caller then records the run as usual
// (RecordEval, FinishRun or FailRun, which end the claim) and keeps the
// claim alive with Heartbeat, for instance with StartHeartbeat. A run that
// has been taken over is gone: its RecordEval and FinishRun fail with
// ErrNotFound and its Heartbeat with ErrClaimLost.
func (s *Store) Claim(ctx context.Context, r Run, opts ClaimOptions) (Claim, error) {
	r, err := newRun(r)
	if err != nil {
		return Claim{}, fmt.Errorf("claim: %w", err)
	}
	owner := opts.Owner
	if owner == (Owner{}) {
		if owner, err = CurrentOwner(); err != nil {
			return Claim{}, fmt.Errorf("claim %s: %w", r.label(), err)
		}
	}
	if owner.Token == "" {
		return Claim{}, fmt.Errorf("claim %s: owner without a token", r.label())
	}
	stale := opts.StaleAfter
	if stale <= 0 {
		stale = DefaultStaleAfter
	}
	r.Owner = owner
	var c Claim
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		c = Claim{}
		g, err := requestedGeneration(ctx, tx, r.ConfigHash, r.Seed)
		if err != nil {
			return err
		}
		c.Generation = g
		if id, ok, err := findDone(ctx, tx, s.version, r.ConfigHash, r.Seed); err != nil {
			return err
		} else if ok {
			c.State, c.RunID = AlreadyDone, id
			return nil
		}
		holder, held, err := runningClaim(ctx, tx, s.version, r.ConfigHash, r.Seed)
		if err != nil {
			return err
		}
		now := time.Now()
		if held {
			state, why := Liveness(holder, stale, now)
			if state != OwnerGone {
				c.State, c.RunID, c.Holder, c.Reason = Held, holder.ID, holder, why
				return nil
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM runs WHERE id = ?", holder.ID); err != nil {
				return fmt.Errorf("take over run %s: %w", holder.ID, err)
			}
			c.Replaced, c.Reason = holder, why
		}
		r.Generation, r.Heartbeat = g, now
		if err := insertRun(ctx, tx, r); err != nil {
			return err
		}
		c.State, c.RunID, c.Token = Claimed, r.ID, owner.Token
		return nil
	})
	if err != nil {
		return Claim{}, fmt.Errorf("claim %s: %w", r.label(), err)
	}
	return c, nil
}

// runningClaim returns the running claim of a unit, if any, in a database
// at schema version v (at least versionOwners).
func runningClaim(ctx context.Context, q querier, v int, configHash string, seed uint64) (Run, bool, error) {
	row := q.QueryRowContext(ctx, "SELECT "+runColumns(v)+` FROM runs
WHERE config_hash = ? AND seed = ? AND status = 'running' AND owner_token IS NOT NULL`,
		configHash, seedValue(seed))
	r, err := scanRun(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, false, nil
	}
	if err != nil {
		return Run{}, false, err
	}
	return r, true, nil
}

// requestedGeneration is the rerun generation a unit's next done run must
// reach: 0 until a rerun is requested.
func requestedGeneration(ctx context.Context, q querier, configHash string, seed uint64) (int, error) {
	var g int
	err := q.QueryRowContext(ctx, "SELECT generation FROM reruns WHERE config_hash = ? AND seed = ?",
		configHash, seedValue(seed)).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return g, err
}

// Heartbeat records that the owner of claim c is alive. It fails with
// ErrClaimLost when the run is no longer c's running claim: taken over by
// another process (which deleted it), or ended.
func (s *Store) Heartbeat(ctx context.Context, c Claim) error {
	if c.State != Claimed || c.Token == "" {
		return fmt.Errorf("heartbeat of run %s: not a claim of this process", c.RunID)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_token = ? AND status = 'running'`,
			formatTime(time.Now()), c.RunID, c.Token)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrClaimLost
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat of run %s: %w", c.RunID, err)
	}
	return nil
}

// A Heartbeater beats one claim's heartbeat in its own goroutine.
type Heartbeater struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error // set before done is closed
}

// StartHeartbeat beats claim c every interval (DefaultHeartbeatEvery when
// 0) until Stop is called. A failed beat is retried at the next interval;
// when the claim is lost (ErrClaimLost) it stops beating and calls lost,
// when not nil, once with the error, for instance to cancel the training.
// Stop it before FinishRun or FailRun: a beat after the run has ended finds
// the claim lost.
func (s *Store) StartHeartbeat(c Claim, every time.Duration, lost func(error)) *Heartbeater {
	if every <= 0 {
		every = DefaultHeartbeatEvery
	}
	h := &Heartbeater{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), BusyTimeout+every)
			err := s.Heartbeat(ctx, c)
			cancel()
			if errors.Is(err, ErrClaimLost) {
				h.err = err
				if lost != nil {
					lost(err)
				}
				return
			}
		}
	}()
	return h
}

// Stop stops the heartbeat and waits for a beat in progress. It returns the
// error that ended the beating early (the claim was lost), or nil. Stop may
// be called more than once.
func (h *Heartbeater) Stop() error {
	h.once.Do(func() { close(h.stop) })
	<-h.done
	return h.err
}

// Unit is what a batch trains once: one configuration with one seed.
type Unit struct {
	ConfigHash string
	Seed       uint64
}

// Rerun is what RequestRerun did.
type Rerun struct {
	// Resumed is true when the same set of units had a rerun requested
	// that is not complete yet: nothing was requested again.
	Resumed bool
	// Units is the number of distinct units; Pending how many of them
	// are not done at their rerun generation.
	Units, Pending int
}

// RequestRerun records, in one transaction, that units are to be trained
// again although they are done. Each unit that has a done run gets a rerun
// generation one above its latest done run's, and it counts as done again
// only once a run of that generation is done (see FindDone and Claim); a
// unit without a done run is left as it is, since it runs anyway.
//
// The request is remembered by its set of units, so that a batch started
// again after an interruption, with the same units and the same request,
// resumes: while a request for the same set is not complete (some unit is
// not done at its generation), RequestRerun changes nothing and reports
// Resumed. Once it is complete, the same request starts a new rerun.
func (s *Store) RequestRerun(ctx context.Context, units []Unit) (Rerun, error) {
	units = distinctUnits(units)
	key := unitsKey(units)
	var rr Rerun
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rr = Rerun{Units: len(units)}
		pending, err := pendingUnits(ctx, tx, s.version, units)
		if err != nil {
			return err
		}
		var known int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM rerun_batches WHERE batch_key = ?", key).Scan(&known); err != nil {
			return err
		}
		if known > 0 && pending > 0 {
			rr.Resumed, rr.Pending = true, pending
			return nil
		}
		now := formatTime(time.Now())
		for _, u := range units {
			var latest sql.NullInt64
			if err := tx.QueryRowContext(ctx,
				"SELECT max(generation) FROM runs WHERE config_hash = ? AND seed = ? AND status = 'done'",
				u.ConfigHash, seedValue(u.Seed)).Scan(&latest); err != nil {
				return err
			}
			if !latest.Valid {
				continue
			}
			if _, err := tx.ExecContext(ctx, `
INSERT INTO reruns (config_hash, seed, generation, requested_at) VALUES (?, ?, ?, ?)
ON CONFLICT (config_hash, seed) DO UPDATE SET generation = excluded.generation, requested_at = excluded.requested_at
WHERE excluded.generation > reruns.generation`,
				u.ConfigHash, seedValue(u.Seed), latest.Int64+1, now); err != nil {
				return fmt.Errorf("unit %s seed %d: %w", u.ConfigHash, u.Seed, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `
INSERT INTO rerun_batches (batch_key, units, requested_at) VALUES (?, ?, ?)
ON CONFLICT (batch_key) DO UPDATE SET requested_at = excluded.requested_at`, key, len(units), now); err != nil {
			return err
		}
		rr.Pending, err = pendingUnits(ctx, tx, s.version, units)
		return err
	})
	if err != nil {
		return Rerun{}, fmt.Errorf("request rerun of %d units: %w", len(units), err)
	}
	return rr, nil
}

// pendingUnits counts the units that are not done.
func pendingUnits(ctx context.Context, q querier, v int, units []Unit) (int, error) {
	n := 0
	for _, u := range units {
		_, ok, err := findDone(ctx, q, v, u.ConfigHash, u.Seed)
		if err != nil {
			return 0, err
		}
		if !ok {
			n++
		}
	}
	return n, nil
}

// distinctUnits sorts units and drops repeats.
func distinctUnits(units []Unit) []Unit {
	units = slices.Clone(units)
	slices.SortFunc(units, func(a, b Unit) int {
		return cmp.Or(strings.Compare(a.ConfigHash, b.ConfigHash), cmp.Compare(a.Seed, b.Seed))
	})
	return slices.Compact(units)
}

// unitsKey names a set of distinct, sorted units.
func unitsKey(units []Unit) string {
	h := sha256.New()
	for _, u := range units {
		fmt.Fprintf(h, "%s\x00%d\n", u.ConfigHash, u.Seed)
	}
	return hex.EncodeToString(h.Sum(nil))
}
