package openlineage

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
)

// Result is the reference client's verdict on a set of events.
type Result struct {
	// Client names the checker's openlineage-python and its version.
	Client string `json:"client"`
	// SchemaURL is the RunEvent definition the events were proven against (set when all pass).
	SchemaURL string `json:"schemaURL"`
	// Events counts the events that passed before the first failure (all of them when none failed).
	Events int `json:"events"`
	// Event is the first failing event's line among the non-blank lines, counted from 1; 0 when
	// every event passed.
	Event int `json:"event"`
	// Error says why Event fails: the field's path and what the client or the schema refuses.
	Error string `json:"error"`
}

// Check runs check.py on jsonl (one RunEvent a line) with $ASSAY_OPENLINEAGE_PYTHON and returns
// its verdict; it fails t only when the checker cannot run. Without ASSAY_OPENLINEAGE_PYTHON it
// skips t, or fails it under ASSAY_INTEGRATION=1, so CI can never pass by skipping (as testenv
// does for the servers).
func Check(t testing.TB, jsonl []byte) Result {
	t.Helper()
	python := testenv.Python(t, "ASSAY_OPENLINEAGE_PYTHON", "ops/openlineage/setup.sh")
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, jsonl, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(testenv.RepoRoot(t), "ops", "openlineage", "check.py")
	cmd := exec.Command(python, script, file)
	out, err := cmd.Output()
	var res Result
	if jerr := json.Unmarshal(out, &res); jerr != nil || res.Client == "" {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("openlineage check: %v (output %q, exit %v, stderr %s)", jerr, out, err, stderr)
	}
	if (res.Error == "") != (err == nil) {
		t.Fatalf("openlineage check: exit %v with verdict %+v", err, res)
	}
	return res
}

// Valid fails t unless every event of jsonl passes Check and there are want of them, and
// returns the verdict.
func Valid(t testing.TB, jsonl []byte, want int) Result {
	t.Helper()
	res := Check(t, jsonl)
	if res.Error != "" {
		t.Fatalf("%s refuses event %d: %s", res.Client, res.Event, res.Error)
	}
	if res.Events != want {
		t.Fatalf("%s checked %d events, want %d", res.Client, res.Events, want)
	}
	return res
}
