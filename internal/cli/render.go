package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/noprop/noprop/internal/outfile"
	"github.com/noprop/noprop/results/docblock"
)

func renderCmd() *cobra.Command {
	var (
		db    string
		check bool
	)
	cmd := &cobra.Command{
		Use:   "render FILE.md --db DB",
		Short: "Regenerate the tables and figures of a Markdown document from a results database",
		Long: `Render rewrites the generated blocks of a Markdown document from a results
database. A block is the lines between a marker naming a table or plot
command and an end marker:

  <!-- noprop table --dataset mnist --stream split --format markdown -->
  (the table the command prints)
  <!-- end -->

  <!-- noprop plot average --dataset mnist -o figures/average.png -->
  ![Average accuracy](figures/average.png)
  <!-- end -->

A table block's lines are replaced by what the command prints; a plot
block's lines are kept and its figure is redrawn (-o is relative to the
document's folder). The database is render's --db, never the block's. With
--check nothing is written: render fails, naming the first block that
differs, when the document or a figure is not what the database gives, so a
published document can be checked against the data committed beside it
(noprop import rebuilds a database from CSV exports).`,
		Example: `  noprop import /tmp/study.db docs/data/forgetting-*.csv
  noprop render docs/forgetting.md --db /tmp/study.db           # rewrite
  noprop render docs/forgetting.md --db /tmp/study.db --check   # verify`,
		Args: args(1, false, "name the Markdown document: noprop render FILE.md --db DB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return render(cmd.Context(), args[0], db, check, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&db, "db", "results.db", "results database (SQLite) the blocks are made from; read only")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; fail when a block or figure differs from what the database gives")
	return cmd
}

// render regenerates (or, with check, verifies) the document's blocks.
func render(ctx context.Context, file, db string, check bool, stderr io.Writer) error {
	doc, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	if _, err := os.Stat(db); err != nil {
		return fmt.Errorf("render: no results database %s: name one with --db (noprop import builds one from CSV exports)", db)
	}
	dir := filepath.Dir(file)
	tmp, err := os.MkdirTemp("", "noprop-render-")
	if err != nil {
		return fmt.Errorf("render: %w", err)
	}
	defer os.RemoveAll(tmp)
	var stale []string // with check: what differs, by block
	out, err := docblock.Render(doc, func(b docblock.Block) (string, error) {
		body, differs, err := renderBlock(ctx, b, db, dir, tmp, check, stderr)
		if differs != "" {
			stale = append(stale, fmt.Sprintf("%s:%d: %s differs from what `%s` gives", file, b.Line, differs, b.Command()))
		}
		return body, err
	})
	if err != nil {
		return fmt.Errorf("render %s: %w", file, err)
	}
	if check {
		switch {
		case len(stale) == 1:
			return fmt.Errorf("%s; regenerate with noprop render %s --db %s", stale[0], file, db)
		case len(stale) > 1:
			return fmt.Errorf("%s, and %d more block(s); regenerate with noprop render %s --db %s", stale[0], len(stale)-1, file, db)
		}
		return nil
	}
	return outfile.Write(file, 0o644, func(w io.Writer) error {
		_, err := w.Write(out)
		return err
	})
}

// renderBlock runs one block's command on db. It returns the block's new
// body and, with check, what of it differs from the document ("" when
// nothing does). A figure is drawn into tmp when checking.
func renderBlock(ctx context.Context, b docblock.Block, db, dir, tmp string, check bool, stderr io.Writer) (body, differs string, err error) {
	args := append([]string(nil), b.Args...)
	for _, a := range args {
		if a == "--db" || strings.HasPrefix(a, "--db=") {
			return "", "", errors.New("the block names --db: the database is render's --db")
		}
	}
	switch args[0] {
	case "table":
		var buf bytes.Buffer
		if err := runBlock(ctx, append(args, "--db", db), &buf, stderr); err != nil {
			return "", "", err
		}
		if check && buf.String() != b.Body {
			differs = "the table"
		}
		return buf.String(), differs, nil
	case "plot":
		i, fig, err := figureArg(args)
		if err != nil {
			return "", "", err
		}
		target := filepath.Join(dir, fig)
		args[i] = target
		if check {
			args[i] = filepath.Join(tmp, filepath.Base(fig))
		}
		if err := runBlock(ctx, append(args, "--db", db), io.Discard, stderr); err != nil {
			return "", "", err
		}
		if check {
			drawn, err := os.ReadFile(args[i])
			if err != nil {
				return "", "", err
			}
			if old, err := os.ReadFile(target); err != nil || !bytes.Equal(old, drawn) {
				differs = "the figure " + target
			}
		}
		body := b.Body
		if strings.TrimSpace(body) == "" { // the figure's link, until the author writes a caption
			body = "![" + b.Command() + "](" + fig + ")\n"
			if check {
				differs = "the block's figure link"
			}
		}
		return body, differs, nil
	}
	return "", "", fmt.Errorf("a block runs table or plot, not %q", args[0])
}

// figureArg finds a plot block's figure: the index of the -o (--output)
// value in args and the value, a path inside the document's folder.
func figureArg(args []string) (int, string, error) {
	for i, a := range args {
		if (a == "-o" || a == "--output") && i+1 < len(args) {
			p := args[i+1]
			if filepath.IsAbs(p) || !filepath.IsLocal(p) {
				return 0, "", fmt.Errorf("-o %s: name a figure inside the document's folder (a relative path without ..)", p)
			}
			return i + 1, p, nil
		}
	}
	return 0, "", errors.New("a plot block names its figure with -o PATH (relative to the document's folder)")
}

// runBlock runs a block's command line as noprop would, its output to
// stdout.
func runBlock(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	var errBuf bytes.Buffer
	if execute(ctx, argv, stdout, &errBuf) != 0 {
		return errors.New(strings.TrimPrefix(strings.TrimSpace(errBuf.String()), "noprop: "))
	}
	io.Copy(stderr, &errBuf) // notes beside a successful command's output
	return nil
}
