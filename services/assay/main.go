// Command assay is the operator's and analyst's tool: infrastructure administration
// (assay admin migrate|topics) and, as the system grows, emitting, tailing and replaying
// events, agreement checks on exports and audits of dataset versions.
//
// Every subcommand lives in a file of its own and registers itself in commands; main only
// dispatches, so adding a command never touches another.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/assay-data/assay/services/internal/serve"
	"github.com/assay-data/assay/streams/infra/config"
)

// command is one `assay <name>` subcommand.
type command struct {
	summary string
	// run gets the arguments after the command name; it returns errUsage (wrapped or not) when
	// the arguments are wrong, so main can exit 2 as flag parsing does, and errUnavailable when
	// a command whose exit status answers a question (assay gate) could not ask.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("assay: command registered twice: " + name)
	}
	commands[name] = c
}

var errUsage = errors.New("usage")

// errUnavailable marks a command that could not read what it needs (a server down, a query
// refused): like errUsage it exits 2, so a caller can tell it from the command's own "no" (1).
var errUnavailable = errors.New("unavailable")

func main() {
	ctx, cancel := serve.SignalContext(context.Background())
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "assay: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "assay %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) || errors.Is(err, errUnavailable) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: assay <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'assay <command> -h' for its flags. Each flag falls back to ASSAY_<COMMAND>_<FLAG>, then ASSAY_<FLAG>\n(upper case, dashes as underscores); -h lists the variables of every flag.")
}

// newFlagSet returns a flag set that reports errors instead of exiting, writing usage to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("assay "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses the flags of `assay <command>` with config.ParseFlags: each flag falls back
// to ASSAY_<COMMAND>_<FLAG>, then ASSAY_<FLAG>, then its aliases (the documented names that do
// not follow the rule). The CLI is a main: reading the environment here is its job.
func parseFlags(fs *flag.FlagSet, command string, args []string, aliases config.Aliases) error {
	return config.ParseFlags(fs, command, args, os.LookupEnv, aliases)
}

// parseNoArgs is parseFlags for a command that takes flags only: an argument left over is a
// usage error.
func parseNoArgs(fs *flag.FlagSet, command string, args []string, aliases config.Aliases) error {
	if err := parseFlags(fs, command, args, aliases); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return nil
}

// openInput opens the file at path, or stdin for "-", for a command that reads one input.
func openInput(path string) (io.ReadCloser, error) {
	if path == "-" {
		return io.NopCloser(os.Stdin), nil
	}
	return os.Open(path)
}

// subcommand splits args into a sub-subcommand name and its arguments ("admin migrate ...").
func subcommand(args []string, names ...string) (string, []string, error) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", nil, fmt.Errorf("%w: want one of %s", errUsage, strings.Join(names, ", "))
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("%w: unknown subcommand %q, want one of %s", errUsage, args[0], strings.Join(names, ", "))
}
