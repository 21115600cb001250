package httpapi

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// MaxIDBytes bounds a filter value; ids in the event contract are free text, but none is
// this long, and the bound keeps a request from shipping megabytes into a query.
const MaxIDBytes = 128

// MaxWindow is the longest window accepted; longer is "all".
const MaxWindow = 366 * 24 * time.Hour

// Filter narrows a KPI read. The zero value means every project, every cohort, all time.
type Filter struct {
	// Project is a project_id, or "" for every project.
	Project string `json:"project"`
	// Cohort is a cohort name, or "" for every label (scope "all" of the KPI tables).
	Cohort string `json:"cohort"`
	// Dataset is a dataset_id (coverage only), or "" for every dataset.
	Dataset string `json:"dataset"`
	// Window is the look-back of time-stamped figures (findings reported, items ingested);
	// zero means all time.
	Window time.Duration `json:"-"`
	// WindowText is Window as the client wrote it ("all" when zero), echoed in answers.
	WindowText string `json:"window"`
}

// SinceMillis returns the epoch milliseconds a windowed figure starts at, given now; 0
// (the epoch, so every row) when the window is all time.
func (f Filter) SinceMillis(now time.Time) int64 {
	if f.Window <= 0 {
		return 0
	}
	return now.Add(-f.Window).UnixMilli()
}

// Key identifies the filter, for the history of filtered views.
func (f Filter) Key() string {
	return url.Values{"project": {f.Project}, "cohort": {f.Cohort}, "dataset": {f.Dataset}, "window": {f.WindowText}}.Encode()
}

// ParamError is a bad query parameter; handlers answer it with 400.
type ParamError struct {
	// Param is the parameter's name.
	Param string
	// Reason says what is wrong with it, for people.
	Reason string
}

// Error implements error.
func (e *ParamError) Error() string { return fmt.Sprintf("parameter %q: %s", e.Param, e.Reason) }

// ParseFilter reads the filter parameters of q. allowed lists the parameters the endpoint
// takes (others are refused, so a typo such as ?projet=x is an error instead of a silently
// unfiltered answer).
func ParseFilter(q url.Values, allowed ...string) (Filter, error) {
	f := Filter{WindowText: "all"}
	for name, vals := range q {
		if !slices.Contains(allowed, name) {
			return f, &ParamError{Param: name, Reason: "unknown parameter; this endpoint takes " + strings.Join(allowed, ", ")}
		}
		if len(vals) != 1 {
			return f, &ParamError{Param: name, Reason: fmt.Sprintf("given %d times; give it once", len(vals))}
		}
	}
	var err error
	if f.Project, err = idParam(q, "project"); err != nil {
		return f, err
	}
	if f.Cohort, err = idParam(q, "cohort"); err != nil {
		return f, err
	}
	if f.Dataset, err = idParam(q, "dataset"); err != nil {
		return f, err
	}
	if w := q.Get("window"); w != "" && w != "all" {
		d, err := ParseWindow(w)
		if err != nil {
			return f, &ParamError{Param: "window", Reason: err.Error()}
		}
		f.Window, f.WindowText = d, w
	}
	return f, nil
}

func idParam(q url.Values, name string) (string, error) {
	v := q.Get(name)
	if err := CheckID(v); err != nil {
		return "", &ParamError{Param: name, Reason: err.Error()}
	}
	return v, nil
}

// CheckID accepts what an id of the event contract can be: valid UTF-8 of at most
// MaxIDBytes bytes without control characters. Quotes, spaces and SQL keywords are fine:
// values reach ClickHouse only as bound parameters.
func CheckID(v string) error {
	if len(v) > MaxIDBytes {
		return fmt.Errorf("longer than %d bytes", MaxIDBytes)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("not valid UTF-8")
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("contains the control character %U", r)
		}
	}
	return nil
}

// ParseWindow reads a window: a positive Go duration ("90s", "15m", "6h") or a number of
// days ("7d"), at most MaxWindow.
func ParseWindow(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 {
			return 0, fmt.Errorf("%q is not a window: want a positive number of days like 7d, a duration like 15m or 6h, or all", s)
		}
		if days > int(MaxWindow/(24*time.Hour)) {
			return 0, fmt.Errorf("window %s is out of range: between 1s and 366d", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return 0, fmt.Errorf("%q is not a window: want a duration like 15m or 6h, a number of days like 7d, or all", s)
		}
	}
	if d < time.Second || d > MaxWindow {
		return 0, fmt.Errorf("window %s is out of range: between 1s and 366d", s)
	}
	return d, nil
}
