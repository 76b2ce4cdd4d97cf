package report

import (
	"strings"
	"testing"
)

// TestMarkdownEscapesStoredStrings: names a database could hold (a host
// with HTML, a version with backticks, a spec that closes its fence) stay
// text in the Markdown report.
func TestMarkdownEscapesStoredStrings(t *testing.T) {
	r := &Report{
		Title: "study <script>alert(1)</script>", Source: "odd`name.db", Filter: "all", Version: "v1 *bold*",
		Configs: []Config{{
			Title: "x<img src=y>", ConfigHash: "abc", Seeds: "1", RunIDs: []string{"id`1"},
			Versions: []string{"v`1`"}, Hosts: []string{"<b>host</b>\nnext line"},
			Spec: "{\"method\": \"a```\\n# injected\"}",
		}},
	}
	var b strings.Builder
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for i, r := range md {
		if r == '<' && (i == 0 || md[i-1] != '\\') {
			t.Errorf("the Markdown report holds an unescaped < at byte %d:\n%s", i, md)
			break
		}
	}
	if strings.Contains(md, "\nnext line") {
		t.Errorf("a stored line break starts a new Markdown line:\n%s", md)
	}
	for _, want := range []string{`\<script\>`, "`` odd`name.db ``", "`` id`1 ``", "````json\n", "\n````\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown report lacks %q:\n%s", want, md)
		}
	}
}

func TestMdText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"backprop on split-mnist, class-IL", "backprop on split-mnist, class-IL"},
		{"a|b", `a\|b`},
		{"<a href=x>&amp;", `\<a href=x\>\&amp;`},
		{"line\nbreak\x1b[31m", `line break \[31m`},
		{"[link](x)", `\[link\](x)`},
	}
	for _, tc := range tests {
		if got := mdText(tc.in); got != tc.want {
			t.Errorf("mdText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
