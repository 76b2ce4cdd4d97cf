package results

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// Rehash recomputes the configuration hash of every stored run from its
// spec, in one transaction, when what makes a run's identity has changed
// (a setting now marked as not changing results, a learning curve no
// longer part of it): every run is kept, and the requested reruns follow
// their runs. hash returns a spec's hash, or ok false to keep the stored
// one (a method this program does not know). A running claim that would
// collide with another's under the new hash keeps its old hash. Rehash
// returns how many runs changed hash.
func (s *Store) Rehash(ctx context.Context, hash func(specJSON string) (h string, ok bool)) (int, error) {
	if s.readOnly {
		return 0, fmt.Errorf("rehash %s: %w", s.path, ErrReadOnly)
	}
	changed := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, "SELECT id, spec_json, config_hash FROM runs")
		if err != nil {
			return err
		}
		type change struct{ id, from, to string }
		var todo []change
		for rows.Next() {
			var id, spec, old string
			if err := rows.Scan(&id, &spec, &old); err != nil {
				rows.Close()
				return err
			}
			if h, ok := hash(spec); ok && h != old {
				todo = append(todo, change{id, old, h})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		renamed := map[string]string{}
		for _, c := range todo {
			_, err := tx.ExecContext(ctx, "UPDATE runs SET config_hash = ? WHERE id = ?", c.to, c.id)
			var se sqlite3.Error
			if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
				continue // two live claims of one unit: the later keeps its hash
			}
			if err != nil {
				return fmt.Errorf("run %s: %w", c.id, err)
			}
			renamed[c.from] = c.to
			changed++
		}
		return rehashReruns(ctx, tx, s.version, renamed)
	})
	if err != nil {
		return 0, fmt.Errorf("rehash %s: %w", s.path, err)
	}
	return changed, nil
}

// rehashReruns moves the requested reruns of renamed configurations to
// their new hashes (keeping the higher generation where both exist).
func rehashReruns(ctx context.Context, tx *sql.Tx, version int, renamed map[string]string) error {
	if version < versionOwners {
		return nil
	}
	for from, to := range renamed {
		if _, err := tx.ExecContext(ctx, `
INSERT INTO reruns (config_hash, seed, generation, requested_at)
SELECT ?, seed, generation, requested_at FROM reruns WHERE config_hash = ?
ON CONFLICT (config_hash, seed) DO UPDATE SET generation = max(generation, excluded.generation)`, to, from); err != nil {
			return fmt.Errorf("reruns of %s: %w", from, err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM reruns WHERE config_hash = ?", from); err != nil {
			return fmt.Errorf("reruns of %s: %w", from, err)
		}
	}
	return nil
}
