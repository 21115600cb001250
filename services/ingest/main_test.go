package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// tokens is a valid inline entry, so that run gets past the token check when it should.
var tokens = "collector " + strings.Repeat("ab", 32)

// TestConfigurationErrorsStopTheGateway: a value that does not parse is an error naming the
// variable (ASSAY_INGEST_MAX_EVENTS=50k used to become the default, 50000, silently), and HTTP
// bounds that would cut acknowledged requests are refused; both before anything is started.
func TestConfigurationErrorsStopTheGateway(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unparsable service variable", nil, map[string]string{"ASSAY_INGEST_MAX_EVENTS": "50k", "ASSAY_INGEST_TOKENS": tokens}, `ASSAY_INGEST_MAX_EVENTS="50k"`},
		{"unparsable shared variable", nil, map[string]string{"ASSAY_HTTP_READ_TIMEOUT": "5", "ASSAY_INGEST_TOKENS": tokens}, "ASSAY_HTTP_READ_TIMEOUT"},
		{"write timeout below read", []string{"-http-write-timeout", "1m"}, map[string]string{"ASSAY_INGEST_TOKENS": tokens}, "write timeout"},
		{"write timeout below read + produce", []string{"-http-write-timeout", "5m5s"}, map[string]string{"ASSAY_INGEST_TOKENS": tokens}, "-produce-timeout"},
		{"no tokens", nil, nil, "ASSAY_INGEST_TOKENS"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // were it to start, it would stop at once
			err := run(ctx, tt.args, envOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestUsageNamesEveryVariable: -h shows each flag's variables and the env-only token entries.
func TestUsageNamesEveryVariable(t *testing.T) {
	var help strings.Builder
	if err := run(context.Background(), []string{"-h"}, envOf(nil), &help); err == nil {
		t.Fatal("-h: no error")
	}
	for _, want := range []string{"ASSAY_INGEST_TOKENS", "(env ASSAY_INGEST_MAX_EVENTS, ASSAY_MAX_EVENTS)", "(env ASSAY_INGEST_HTTP_READ_TIMEOUT, ASSAY_HTTP_READ_TIMEOUT) (default 5m0s)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h lacks %q:\n%s", want, help.String())
		}
	}
}
