package slurm

import (
	"os/exec"
	"testing"
)

func TestArraySpec(t *testing.T) {
	tests := []struct {
		tasks []int
		max   int
		want  string
	}{
		{[]int{0, 1, 2, 3}, 0, "0-3"},
		{[]int{0, 1, 2, 5, 7, 8}, 0, "0-2,5,7-8"},
		{[]int{4}, 0, "4"},
		{[]int{1, 3}, 2, "1,3%2"},
	}
	for _, tc := range tests {
		if got := ArraySpec(tc.tasks, tc.max); got != tc.want {
			t.Errorf("ArraySpec(%v, %d) = %q, want %q", tc.tasks, tc.max, got, tc.want)
		}
	}
}

// TestShellQuote reads each quoted word back through the shell.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain/path-1.db", "", "two words", "it's", `"$HOME" $(date) ; rm -rf x`, "tab\there", "a'b'c"} {
		q := ShellQuote(s)
		got, err := exec.Command("sh", "-c", "printf %s "+q).Output()
		if err != nil || string(got) != s {
			t.Errorf("ShellQuote(%q) = %s reads back as %q (%v)", s, q, got, err)
		}
	}
	if q := ShellQuote("plain/path-1.db"); q != "plain/path-1.db" {
		t.Errorf("a plain word is quoted: %s", q)
	}
}

// headerJournal reads the journal a database file's header records.
