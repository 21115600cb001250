package scipy

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
)

// Python returns $ASSAY_SCIPY_PYTHON. Without it t is skipped, or failed under
// ASSAY_INTEGRATION=1, so CI can never pass by skipping (as testenv does for the servers).
func Python(t testing.TB) string {
	t.Helper()
	return testenv.Python(t, "ASSAY_SCIPY_PYTHON", "ops/scipy/setup.sh")
}

// Run runs script (a file in this directory, e.g. "regions.py") with $ASSAY_SCIPY_PYTHON,
// writing in to its standard input as JSON and decoding its standard output into out. It
// fails t when the script cannot run or answers with something that is not JSON.
func Run(t testing.TB, script string, in, out any) {
	t.Helper()
	python := Python(t)
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, filepath.Join(testenv.RepoRoot(t), "ops", "scipy", script))
	cmd.Stdin = bytes.NewReader(input)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.Bytes())
	}
	if err := json.Unmarshal(output, out); err != nil {
		t.Fatalf("%s answered %.200q: %v\n%s", script, output, err, stderr.Bytes())
	}
}
