package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/assay-data/assay/services/ingest/gateway"
)

func init() {
	register("token", command{
		summary: "make a collector token for the ingest gateway and the line that configures it",
		run:     runToken,
	})
}

// runToken prints a new random token (give it to the collector) and the tokens-file line
// with its SHA-256 (give that to the gateway): the gateway never stores the token itself.
func runToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("token", stderr)
	families := fs.String("families", "", "comma-separated families the producer may write (default: all)")
	if err := parseFlags(fs, "token", args, nil); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: assay token [-families items,labels] <producer_id>", errUsage)
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return fmt.Errorf("random token: %w", err)
	}
	tok := "assay_" + base64.RawURLEncoding.EncodeToString(b)
	line := fs.Arg(0) + " " + gateway.HashToken(tok)
	if *families != "" {
		line += " " + *families
	}
	if _, err := gateway.ParseTokens(line); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	fmt.Fprintf(stdout, "token (for the collector, ASSAY_INGEST_TOKEN):\n  %s\ntokens-file line (for the gateway, ASSAY_INGEST_TOKENS / -tokens-file):\n  %s\n", tok, line)
	return nil
}
