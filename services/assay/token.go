package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/assay-data/assay/schemas/access"
)

func init() {
	register("token", command{
		summary: "principals: 'token create' makes a token and its principals-file line, 'token list' shows a principals file without secrets",
		run:     runToken,
	})
}

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	sub, rest, err := subcommand(args, "create", "list")
	if err != nil {
		return err
	}
	if sub == "create" {
		return tokenCreate(rest, stdout, stderr)
	}
	return tokenList(rest, stdout, stderr)
}

// tokenCreate prints a new random token (the first line: give it to the principal's client,
// it is shown once and stored nowhere) and the principals-file line with its SHA-256 (the
// second line: for the gateway and the API, which keep only hashes). With -add-to it also
// adds the line to a principals file, atomically, after checking that the file with it still
// parses (an id declared with another scope, say, is refused).
func tokenCreate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token create", stderr)
	role := fs.String("role", "", "role: collector, labeler, model, qa, owner (writers), analyst, vendor (readers)")
	projects := fs.String("projects", "", "comma-separated projects, or * for every project (internal roles only)")
	vendor := fs.String("vendor", "", "vendor: required for role vendor; for a labeler, the vendor its labels name (none: in house)")
	cohorts := fs.String("cohorts", "", "labeler: cohorts its labels may name; vendor: cohorts it reads (comma-separated)")
	models := fs.String("models", "", "model: model names its pre-labels may name (comma-separated, or *)")
	annotators := fs.String("annotators", "", "labeler: prefix every annotator_id of its labels must start with")
	id := fs.String("id", "", "principal id, the producer of its events (default <role>[-<vendor>]-<random>); reuse one to rotate its token")
	addTo := fs.String("add-to", "", "also add the line to this principals file (created if missing, replaced atomically)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay token create -role R -projects P [-vendor V] [-cohorts C] [-models M] [-annotators A] [-id ID] [-add-to FILE]\n\nPrints the new token (line 1, shown once) and its principals-file line (line 2).")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "token", args, nil); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v (assay token create -id <id> ...)", errUsage, fs.Args())
	}
	list := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	p := &access.Principal{ID: *id, Role: access.Role(*role), Projects: list(*projects), Vendor: *vendor,
		Cohorts: list(*cohorts), Models: list(*models), AnnotatorPrefix: *annotators}
	tok, err := access.NewToken()
	if err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = string(p.Role)
		if p.Vendor != "" {
			p.ID += "-" + p.Vendor
		}
		p.ID += "-" + access.HashToken(tok)[:8]
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	line := p.Line(access.HashToken(tok))
	// The line must parse back, alone and (with -add-to) with the file it joins.
	if _, err := access.Parse("the new line", line); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *addTo != "" {
		if err := addLines(*addTo, line+"\n"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%s\n%s\n", tok, line)
	where := "Add the second line to the principals file (-principals-file)"
	if *addTo != "" {
		where = "The second line was added to " + *addTo
	}
	fmt.Fprintf(stderr, "assay token create: the first line is the token of principal %s: give it to its client now; it is stored nowhere and cannot be shown again.\n%s; the gateway takes it within -principals-poll or on SIGHUP.\n", p.ID, where)
	return nil
}

// addLines adds lines (newline-terminated) to the principals file at path, refusing if the
// result does not parse, and replaces the file atomically (a temporary file renamed over it,
// mode 0600 for a new file, the old mode otherwise), so a gateway polling it never reads half
// of it.
func addLines(path, lines string) error {
	old, err := os.ReadFile(path)
	mode := fs.FileMode(0o600)
	switch {
	case err == nil:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fmt.Errorf("principals file: %w", err)
	}
	text := string(old)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += lines
	if _, err := access.Parse(path, text); err != nil {
		return fmt.Errorf("the principals file would not parse with the new lines, nothing written: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("principals file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return fmt.Errorf("principals file: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("principals file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("principals file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("principals file: %w", err)
	}
	return nil
}

// tokenList prints the principals of a principals file, without secrets: id, role, scope and
// how many tokens each has (0: kept without a token, or revoked).
func tokenList(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token list", stderr)
	file := fs.String("principals-file", "", "the principals file to list")
	if err := parseFlags(fs, "token", args, nil); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		return fmt.Errorf("%w: assay token list -principals-file <file>", errUsage)
	}
	reg, err := access.ReadFile(*file)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROLE\tPROJECTS\tVENDOR\tCOHORTS\tMODELS\tANNOTATORS\tTOKENS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, p := range reg.Principals() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", p.ID, p.Role, strings.Join(p.Projects, ","), dash(p.Vendor),
			dash(strings.Join(p.Cohorts, ",")), dash(strings.Join(p.Models, ",")), dash(p.AnnotatorPrefix), reg.TokensOf(p.ID))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d principals, %d tokens\n", reg.Len(), reg.Tokens())
	return nil
}
