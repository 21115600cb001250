package preference

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/assay-data/assay/ops/testenv"
)

// Label is one annotator's preference on one item, its value as the JSON object the CLI reads
// ({"responses": [...], "choice": ..., "shown_first": ..., "strength": ...}).
type Label struct {
	Item      string          `json:"item"`
	Annotator string          `json:"annotator"`
	Value     json.RawMessage `json:"value"`
}

// Data is what Check computes the figures of.
type Data struct {
	// Scale is the question's strength scale S, 0 for none.
	Scale int32 `json:"scale"`
	// Confidence is the intervals' confidence level (0.95 for 95%).
	Confidence float64 `json:"confidence"`
	// Labels are the preference labels, at most one per item and annotator.
	Labels []Label `json:"labels"`
	// Intervals are further (successes, trials) to compute the Wilson interval of.
	Intervals [][2]int64 `json:"intervals"`
}

// Bias is the references' position bias of one annotator's labels, or everyone's.
type Bias struct {
	FirstChosen int64 `json:"first_chosen"`
	Labels      int64 `json:"labels"`
	// Expected is the mean of 1/k over the labels, also as the exact fraction
	// ExpectedNum/ExpectedDen in lowest terms.
	Expected    float64 `json:"expected"`
	ExpectedNum int64   `json:"expected_num"`
	ExpectedDen int64   `json:"expected_den"`
	// Low and High are SciPy's Wilson interval around FirstChosen/Labels.
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
	Excludes bool    `json:"excludes"`
}

// Interval is SciPy's Wilson interval for one of Data.Intervals.
type Interval struct {
	Successes int64   `json:"successes"`
	Trials    int64   `json:"trials"`
	Low       float64 `json:"low"`
	High      float64 `json:"high"`
}

// Result is what the references compute of a Data.
type Result struct {
	// Client names the references and their versions.
	Client string `json:"client"`
	// NominalAlpha and OrdinalAlpha are krippendorff's alphas, nil when undefined
	// (OrdinalAlpha also when Data.Scale is 0).
	NominalAlpha *float64 `json:"nominal_alpha"`
	OrdinalAlpha *float64 `json:"ordinal_alpha"`
	// Bias is keyed by annotator, "" for every label.
	Bias      map[string]Bias `json:"bias"`
	Intervals []Interval      `json:"intervals"`
}

// Check runs check.py on data with $ASSAY_SCIPY_PYTHON and returns the references' figures; it
// fails t when the checker cannot run or refuses the data. Without ASSAY_SCIPY_PYTHON it skips
// t, or fails it under ASSAY_INTEGRATION=1, so CI can never pass by skipping (as testenv does
// for the servers).
func Check(t testing.TB, data Data) Result {
	t.Helper()
	python := testenv.Python(t, "ASSAY_SCIPY_PYTHON", "ops/scipy/setup.sh")
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "preferences.json")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(testenv.RepoRoot(t), "ops", "preference", "check.py")
	out, err := exec.Command(python, script, file).Output()
	var res struct {
		Result
		Error string `json:"error"`
	}
	if jerr := json.Unmarshal(out, &res); jerr != nil || res.Client == "" {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("preference check: %v (output %q, exit %v, stderr %s)", jerr, out, err, stderr)
	}
	if res.Error != "" || err != nil {
		t.Fatalf("preference check (%s): exit %v: %s", res.Client, err, res.Error)
	}
	return res.Result
}
