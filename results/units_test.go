package results

import (
	"path/filepath"
	"testing"
)

// TestUnitStates: one answer for a study's units across the main store and
// others (a merged study beside its shards): done in main, done only in
// another (not merged), held by a live owner in either, or pending.
func TestUnitStates(t *testing.T) {
	ctx := t.Context()
	open := func(name string) *Store {
		s, err := Open(filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	main, shard := open("study.db"), open("shard-0.db")
	done := func(s *Store, hash string) string {
		return completeRun(t, s, testRun("m", hash, 1, 1), [][]float64{{50}, {90}}, nil, Memory{})
	}
	claim := func(s *Store, hash string) string {
		c, err := s.Claim(ctx, testRun("m", hash, 1, 1), ClaimOptions{})
		if err != nil || c.State != Claimed {
			t.Fatalf("claim %s: %+v, %v", hash, c, err)
		}
		return c.RunID
	}
	inMain := done(main, "a")
	done(shard, "a") // done in both: main's counts
	inShard := done(shard, "b")
	heldMain := claim(main, "c")
	heldShard := claim(shard, "d")
	units := []Unit{{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"a", 2}}
	got, err := UnitStates(ctx, main, []*Store{shard}, units, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status UnitStatus
		run    string
		where  *Store
	}{
		{Done, inMain, main}, {DoneElsewhere, inShard, shard}, {Running, heldMain, main},
		{Running, heldShard, shard}, {Pending, "", nil}, {Pending, "", nil},
	}
	for i, w := range want {
		g := got[i]
		where := ""
		if w.where != nil {
			where = w.where.Path()
		}
		if g.Unit != units[i] || g.Status != w.status || g.RunID != w.run || g.Where != where {
			t.Errorf("unit %v: %v run %q in %q, want %v run %q in %q", units[i], g.Status, g.RunID, g.Where, w.status, w.run, where)
		}
		if g.Status == Running && g.Reason == "" {
			t.Errorf("unit %v: running without a reason", units[i])
		}
	}
	// Without a main store, every done unit is done elsewhere.
	got, err = UnitStates(ctx, nil, []*Store{main}, units[:1], 0)
	if err != nil || got[0].Status != DoneElsewhere {
		t.Errorf("no main store: %+v, %v", got, err)
	}
}

func TestLessSettings(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"lr=0.0001", "lr=0.001", true},
		{"lr=0.001", "lr=0.0001", false},
		{"lr=0.01 seed=2", "lr=0.01 seed=10", true},
		{"hidden=[8]", "hidden=[16]", false}, // not numbers: as text
		{"a=1", "b=0", true},
		{"lr=1", "lr=1 x=2", true},
	} {
		if got := lessSettings(tc.a, tc.b); got != tc.want {
			t.Errorf("lessSettings(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
