package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestUsageAndUnknownCommand(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: assay"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"admin"}, 2, "want one of migrate, topics"},
		{[]string{"admin", "drop"}, 2, `unknown subcommand "drop"`},
		{[]string{"agreement", "-level", "fuzzy"}, 2, "fuzzy"},
		{[]string{"agreement", "-input", "/does/not/exist"}, 1, "open ratings"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tt.args, &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("assay %q: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, errOut.String(), tt.code, tt.want)
		}
	}
}

// TestAgreementOnKrippendorffExample runs the CLI on the worked example of Krippendorff (2011),
// "Computing Krippendorff's Alpha-Reliability", and checks the published figures.
func TestAgreementOnKrippendorffExample(t *testing.T) {
	published := map[string]float64{"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}
	for level, want := range published {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"agreement", "-input", "../../streams/agreement/testdata/krippendorff2011.csv", "-level", level, "-json"}, &out, &errOut)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", level, code, errOut.String())
		}
		var report struct {
			Alpha          *float64 `json:"alpha"`
			PairableValues int64    `json:"pairable_values"`
		}
		if err := json.Unmarshal(out.Bytes(), &report); err != nil {
			t.Fatalf("%s: %v\n%s", level, err, out.String())
		}
		if report.Alpha == nil || *report.Alpha < want-0.0005 || *report.Alpha > want+0.0005 {
			t.Errorf("%s: alpha %v, published %.3f", level, report.Alpha, want)
		}
		if report.PairableValues != 40 {
			t.Errorf("%s: %d pairable values, published 40", level, report.PairableValues)
		}
	}
}
