package cli

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIdentityIgnoresRuntimeChoices: a sweep run again with a learning
// curve, more inference runs and a speed setting trains nothing new, and a
// database whose runs were stored before a setting existed (their hashes
// computed the old way) is rehashed so that its runs count as done.
func TestIdentityIgnoresRuntimeChoices(t *testing.T) {
	mnistDir(t) // skips where MNIST is not found
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	sweep := func(name, extra string) string {
		p := filepath.Join(dir, name)
		src := `methods:
  - name: noprop-dt
    preset: quick
    settings: {iterations: 2` + extra + `}
  - name: noprop-ct
    preset: quick
    settings: {iterations: 2, timesteps: 5}
scenarios: [task]
tasks: 2
seeds: 2
inference_runs: 1
`
		if name == "b.yaml" {
			src += "test_every: 1\n"
			src = strings.Replace(src, "inference_runs: 1", "inference_runs: 2", 1)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := sweep("a.yaml", ""), sweep("b.yaml", ", workers: 1, share_scratch: false")
	code, out, stderr := run(t, "run", "--sweep", a, "--db", db)
	if code != 0 || !strings.Contains(out, "4 run(s) finished") {
		t.Fatalf("first sweep: %d\n%s%s", code, out, stderr)
	}
	// The stored CT runs as an older version wrote them: without the
	// settings added since, and with hashes of another rule.
	sqlDB, err := sql.Open("sqlite3", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE runs SET spec_json = replace(replace(spec_json, '"schedule_warmup":0,', ''), '"embed_init_scale":1,', ''),
			config_hash = 'old-' || config_hash WHERE method = 'noprop-ct'`,
		`UPDATE runs SET config_hash = 'older-' || config_hash WHERE method = 'noprop-dt'`,
	} {
		if _, err := sqlDB.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	sqlDB.QueryRow(`SELECT count(*) FROM runs WHERE spec_json LIKE '%schedule_warmup%'`).Scan(&n)
	sqlDB.Close()
	if n != 0 {
		t.Fatalf("%d stored specs still name schedule_warmup", n)
	}
	code, out, stderr = run(t, "run", "--sweep", b, "--db", db)
	if code != 0 || !strings.Contains(out, "0 run(s) finished, 4 skipped as already done") {
		t.Fatalf("the sweep with a learning curve, 2 inference runs and speed settings trained again: %d\n%s%s", code, out, stderr)
	}
	code, out, _ = run(t, "plan", b, "--db", db)
	if code != 0 || !strings.Contains(out, "4 run(s): 4 done") {
		t.Errorf("plan after the rehash:\n%s", out)
	}
}
