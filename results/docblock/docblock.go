// Package docblock finds and rewrites the generated blocks of a Markdown
// document: the parts a command produced, each between a line naming the
// command and an end line, so that the document says how every table and
// figure in it is made and can be regenerated from the data:
//
//	<!-- noprop table --dataset mnist --format markdown -->
//	| method | ... |
//	<!-- end -->
//
// The markers are HTML comments, so they do not show when the document is
// rendered. An argument with spaces is written in double quotes, as in a
// shell: --reference "Figure 3, CT=19:13".
package docblock

import (
	"bytes"
	"fmt"
	"strings"
)

const (
	startPrefix = "<!-- noprop "
	markerEnd   = " -->"
	endLine     = "<!-- end -->"
)

// Block is one generated block.
type Block struct {
	// Line is the 1-based line of the block's start marker.
	Line int
	// Args is the command line the marker names, after "noprop".
	Args []string
	// Body is the text between the markers, each line with its newline.
	Body string

	start, end int // byte offsets of Body in the document
}

// Command is the block's command line as a user types it.
func (b Block) Command() string {
	args := make([]string, len(b.Args))
	for i, a := range b.Args {
		args[i] = a
		if strings.ContainsAny(a, " \t") {
			args[i] = `"` + a + `"`
		}
	}
	return "noprop " + strings.Join(args, " ")
}

// splitArgs splits a marker's command line at spaces, keeping what stands
// between double quotes (which it drops) in one argument.
func splitArgs(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inQuote, inArg := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQuote, inArg = !inQuote, true
		case (r == ' ' || r == '\t') && !inQuote:
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		default:
			cur.WriteRune(r)
			inArg = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("a double quote is not closed")
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

// Parse returns the document's generated blocks in order. A start marker
// without its end line, an end line without a start, a marker inside a
// block or one naming no command is an error that gives the line.
func Parse(doc []byte) ([]Block, error) {
	var blocks []Block
	var open *Block
	off := 0
	for i, line := range bytes.SplitAfter(doc, []byte("\n")) {
		n := i + 1
		text := strings.TrimRight(string(line), "\r\n")
		next := off + len(line)
		switch {
		case strings.HasPrefix(text, startPrefix):
			if open != nil {
				return nil, fmt.Errorf("line %d: a block starts inside the block of line %d (want %q first)", n, open.Line, endLine)
			}
			if !strings.HasSuffix(text, markerEnd) {
				return nil, fmt.Errorf("line %d: the marker does not end with %q on its line", n, strings.TrimSpace(markerEnd))
			}
			args, err := splitArgs(strings.TrimSuffix(strings.TrimPrefix(text, startPrefix), markerEnd))
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			if len(args) == 0 {
				return nil, fmt.Errorf("line %d: the marker names no command", n)
			}
			open = &Block{Line: n, Args: args, start: next}
		case text == endLine:
			if open == nil {
				return nil, fmt.Errorf("line %d: %s without a block to end", n, endLine)
			}
			open.end = off
			open.Body = string(doc[open.start:open.end])
			blocks = append(blocks, *open)
			open = nil
		}
		off = next
	}
	if open != nil {
		return nil, fmt.Errorf("line %d: the block has no %s", open.Line, endLine)
	}
	return blocks, nil
}

// Render returns doc with each generated block's body replaced by what
// body returns for it (the text a command printed, ending in a newline).
// The first error stops it, wrapped with the block's line and command.
func Render(doc []byte, body func(Block) (string, error)) ([]byte, error) {
	blocks, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	last := 0
	for _, b := range blocks {
		text, err := body(b)
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", b.Line, b.Command(), err)
		}
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		out.Write(doc[last:b.start])
		out.WriteString(text)
		last = b.end
	}
	out.Write(doc[last:])
	return out.Bytes(), nil
}
