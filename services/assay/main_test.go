package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
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
		{[]string{"agreement", "-confidence", "95"}, 2, "-confidence 95 is not between 0 and 1"},
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
			AlphaCI        *struct {
				Low    float64 `json:"low"`
				High   float64 `json:"high"`
				Level  float64 `json:"level"`
				Method string  `json:"method"`
			} `json:"alpha_ci"`
		}
		if err := json.Unmarshal(out.Bytes(), &report); err != nil {
			t.Fatalf("%s: %v\n%s", level, err, out.String())
		}
		if report.Alpha == nil || *report.Alpha < want-0.0005 || *report.Alpha > want+0.0005 {
			t.Errorf("%s: alpha %v, published %.3f", level, report.Alpha, want)
		}
		if ci := report.AlphaCI; ci == nil || ci.Level != 0.95 || ci.Method != "jackknife-units-fisher-z" || report.Alpha == nil ||
			!(ci.Low < *report.Alpha && *report.Alpha < ci.High && ci.High <= 1) {
			t.Errorf("%s: alpha_ci %+v, want a 95%% interval around alpha %v", level, ci, report.Alpha)
		}
		if report.PairableValues != 40 {
			t.Errorf("%s: %d pairable values, published 40", level, report.PairableValues)
		}
	}
}

// TestAgreementTextShowsInterval: the text report prints alpha's interval beside it, at the
// confidence asked for.
func TestAgreementTextShowsInterval(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"agreement", "-input", "../../streams/agreement/testdata/krippendorff2011.csv", "-confidence", "0.9"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	want := regexp.MustCompile(`krippendorff alpha\s+0\.7434  90% CI \[0\.\d{4}, 0\.\d{4}\] \(jackknife-units-fisher-z\)\n`)
	if !want.MatchString(out.String()) {
		t.Errorf("text report lacks alpha with its 90%% interval:\n%s", out.String())
	}
}
