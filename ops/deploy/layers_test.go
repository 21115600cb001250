package deploy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers: imports go down the layers CONTRIBUTING.md's layout names, never up. The
// contract (schemas) imports nothing of Assay's outside itself; streams (the runtime, the
// processors and the infrastructure adapters in streams/infra) import only schemas; services
// never import loadtest. Only non-test code counts: tests may use ops/testenv and the checkers.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/assay-data/assay/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/assay-data/assay/"
	allowed := map[string][]string{
		"schemas":  {"schemas"},
		"streams":  {"schemas", "streams"},
		"services": {"schemas", "streams", "services", "ops/clickhouse/migrations"},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], mod)
		layer, _, _ := strings.Cut(pkg, "/")
		ok, ruled := allowed[layer]
		if !ruled {
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			rest, ours := strings.CutPrefix(imp, mod)
			if !ours {
				continue
			}
			fine := false
			for _, a := range ok {
				if rest == a || strings.HasPrefix(rest, a+"/") {
					fine = true
				}
			}
			if !fine {
				t.Errorf("%s imports %s: %s may import only %v", pkg, rest, layer, ok)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d packages checked: go list found too little", checked)
	}
}
