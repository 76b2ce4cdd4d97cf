package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInputFailsWithOneClearLine(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "r.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"train"}, "unknown command"},
		{"unknown flag", []string{"run", "--epochz", "3"}, "unknown flag"},
		{"unknown method", []string{"run", "--db", db, "--method", "noprop-xt"}, `unknown method "noprop-xt"`},
		{"unknown setting", []string{"run", "--db", db, "--set", "hiden=[3]"}, `unknown field "hiden"`},
		{"bad set syntax", []string{"run", "--db", db, "--set", "lr"}, "want key=value"},
		{"bad setting value", []string{"run", "--db", db, "--set", "lr=-1"}, "lr = -1"},
		{"unknown preset", []string{"run", "--db", db, "--preset", "fastest"}, `no preset "fastest"`},
		{"bad scenario", []string{"run", "--db", db, "--scenario", "instance"}, `scenario "instance"`},
		{"bad stream", []string{"run", "--db", db, "--stream", "rotated"}, `stream "rotated"`},
		{"bad seeds", []string{"run", "--db", db, "--seeds", "0"}, "--seeds 0"},
		{"unknown dataset", []string{"run", "--db", db, "--dataset", "svhn"}, `unknown dataset "svhn"`},
		{"missing data folder", []string{"run", "--db", db, "--data", filepath.Join(dir, "nowhere")}, "nowhere"},
		{"missing database", []string{"table", "--db", filepath.Join(dir, "none.db")}, "run `noprop run` first"},
		{"not a database", []string{"table", "--db", "main.go"}, "main.go"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := execute(context.Background(), tc.args, &stderr)
			out := stderr.String()
			if code == 0 {
				t.Fatalf("exit status 0, stderr %q", out)
			}
			if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "noprop: ") {
				t.Errorf("stderr is not one line starting with \"noprop: \": %q", out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("stderr %q does not mention %q", out, tc.want)
			}
		})
	}
}
