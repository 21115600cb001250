package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/assay-data/assay/schemas"
	"github.com/assay-data/assay/services/ingest/client"
	"github.com/assay-data/assay/services/ingest/gateway"
	"github.com/assay-data/assay/streams/infra/config"
)

func init() {
	register("emit", command{
		summary: "send NDJSON events from a file or stdin to the ingest gateway",
		run:     runEmit,
	})
}

// runEmit reads events (one JSON object a line, as POST /v1/events takes them), checks that
// each decodes into its event type, and sends them in batches with the collector client:
// retries on 503 and network errors are safe because ids are assigned before the first try.
func runEmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("emit", stderr)
	url := fs.String("url", "http://127.0.0.1:18090", "gateway base URL")
	batch := fs.Int("batch", 5000, "events per request")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: assay emit [flags] [file.ndjson|-]\n\nThe bearer token is read from ASSAY_INGEST_TOKEN (never a flag: flags show in ps).\nLines without event_id get a fresh one; include ids to make re-running safe.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "emit", args, config.Aliases{"url": {"ASSAY_INGEST_URL"}}); err != nil {
		return err
	}
	token := os.Getenv("ASSAY_INGEST_TOKEN")
	if token == "" {
		return fmt.Errorf("%w: set ASSAY_INGEST_TOKEN to the collector's bearer token", errUsage)
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%w: at most one file", errUsage)
	}
	path := cmp.Or(fs.Arg(0), "-")
	name := path
	if path == "-" {
		name = "stdin"
	}
	in, err := openInput(path)
	if err != nil {
		return fmt.Errorf("open events: %w", err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cl := client.New(*url, token, client.WithBatchLimits(*batch, 4<<20), client.WithGzip(64<<10))
	sent, dups, err := emitStream(ctx, cl, in, *batch)
	fmt.Fprintf(stdout, "%s: %d events accepted (%d already known)\n", name, sent, dups)
	return err
}

// emitStream sends the events of r in chunks of batch lines, so a large file or an endless
// stdin never sits in memory whole. A line that does not decode stops emit before its chunk
// is sent; earlier chunks stay accepted.
func emitStream(ctx context.Context, cl *client.Client, r io.Reader, batch int) (sent, dups int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	var (
		chunk []schemas.Event
		line  int
		first = 1 // line number of chunk[0], for error messages
		lines []int
	)
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		res, err := cl.Send(ctx, chunk...)
		if res != nil {
			sent += len(res.Events)
			dups += res.Duplicates
		}
		if err != nil {
			var ce *client.Error
			if errors.As(err, &ce) {
				var b strings.Builder
				for _, e := range ce.Problem.Errors {
					code := e.Code
					if e.Rule != "" {
						code += " (" + e.Rule + ")"
					}
					fmt.Fprintf(&b, "\n  line %d: %s %s: %s", lines[e.Index], code, e.Field, e.Reason)
				}
				return fmt.Errorf("send events from line %d: %w%s", first, err, b.String())
			}
			return fmt.Errorf("send events from line %d: %w", first, err)
		}
		chunk, lines = chunk[:0], lines[:0]
		return nil
	}
	for sc.Scan() {
		line++
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		ev, e := gateway.DecodeEvent([]byte(raw))
		if e != nil {
			return sent, dups, fmt.Errorf("line %d: %s %s: %s", line, e.Code, e.Field, e.Reason)
		}
		if len(chunk) == 0 {
			first = line
		}
		chunk = append(chunk, ev)
		lines = append(lines, line)
		if len(chunk) == batch {
			if err := flush(); err != nil {
				return sent, dups, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return sent, dups, fmt.Errorf("read events after line %d: %w", line, err)
	}
	return sent, dups, flush()
}
