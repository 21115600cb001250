package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/assay-data/assay/streams/processors"
)

// TestProcessorNames: the -processors help lists every processor of the registry, and an
// unknown name is refused with the list in the form ops/run.sh reads
// (sed 's/.*(known: \(.*\))/\1/' on `-processors __list__`).
func TestProcessorNames(t *testing.T) {
	all := strings.Join(processors.Names(), ", ")
	var help bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, noEnv, &help); code != 2 {
		t.Fatalf("-h: exit %d", code)
	}
	if !strings.Contains(help.String(), "known: "+all+")") {
		t.Errorf("-processors help does not list %s:\n%s", all, help.String())
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"-processors", "__list__"}, noEnv, &errb); code != 2 {
		t.Fatalf("-processors __list__: exit %d: %s", code, errb.String())
	}
	m := regexp.MustCompile(`.*\(known: (.*)\)`).FindStringSubmatch(strings.TrimSpace(errb.String()))
	if m == nil || m[1] != all {
		t.Errorf("-processors __list__ says %q, want the names %s the way ops/run.sh parses them", errb.String(), all)
	}
	for _, n := range []string{"ledger", "router", "lineage"} {
		if !strings.Contains(all, n) {
			t.Errorf("registry lacks %s: %s", n, all)
		}
	}
}

func noEnv(string) (string, bool) { return "", false }
