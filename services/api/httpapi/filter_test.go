package httpapi

import (
	"net/url"
	"testing"
	"time"
)

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "15m": 15 * time.Minute, "6h": 6 * time.Hour, "7d": 7 * 24 * time.Hour, "366d": MaxWindow} {
		if got, err := ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "0d", "-1d", "1.5d", "367d", "9223372036854775807d", "0", "500ms", "1y", "1h; DROP"} {
		if _, err := ParseWindow(in); err == nil {
			t.Errorf("ParseWindow(%q) accepted", in)
		}
	}
}

func TestParseFilterKeepsQuotes(t *testing.T) {
	f, err := ParseFilter(url.Values{"project": {"x' OR 1=1 --"}, "window": {"all"}}, "project", "window")
	if err != nil || f.Project != "x' OR 1=1 --" || f.Window != 0 || f.WindowText != "all" {
		t.Fatalf("ParseFilter = %+v, %v", f, err)
	}
	if f.SinceMillis(time.Now()) != 0 {
		t.Fatal("all time must start at the epoch")
	}
}
