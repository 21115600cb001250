package preference

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func strength(s int32) *int32 { return &s }

func pair(choice, first string, s *int32) Label {
	return Label{Responses: []string{"a", "b"}, Choice: choice, ShownFirst: first, Strength: s}
}

// wantField fails t unless err is a *FieldError (possibly wrapped) naming field with a reason
// containing reason.
func wantField(t *testing.T, err error, field, reason string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError (want field %q)", err, field)
	}
	if fe.Field != field || !strings.Contains(fe.Reason, reason) {
		t.Fatalf("error %q: field %q reason %q, want field %q with %q", err, fe.Field, fe.Reason, field, reason)
	}
}

func TestValidate(t *testing.T) {
	many := make([]string, MaxResponses+1)
	for i := range many {
		many[i] = fmt.Sprint("r", i)
	}
	for _, tc := range []struct {
		name          string
		l             Label
		scale         Scale
		field, reason string // empty: valid
	}{
		{"pair", pair("b", "a", nil), NoScale, "", ""},
		{"pair with strength", pair("a", "a", strength(3)), 3, "", ""},
		{"scaled without strength", pair("a", "b", nil), 3, "", ""},
		{"three responses with strength", Label{Responses: []string{"x", "y", "z"}, Choice: "z", ShownFirst: "y", Strength: strength(1)}, 2, "", ""},
		{"most responses", Label{Responses: many[:MaxResponses], Choice: "r19", ShownFirst: "r0"}, NoScale, "", ""},
		{"no responses", Label{Choice: "a", ShownFirst: "a"}, NoScale, "responses", "at least 2"},
		{"one response", Label{Responses: []string{"a"}, Choice: "a", ShownFirst: "a"}, NoScale, "responses", "at least 2 responses, got 1"},
		{"too many responses", Label{Responses: many, Choice: "r0", ShownFirst: "r0"}, NoScale, "responses", "at most 20 responses, got 21"},
		{"empty id", Label{Responses: []string{"a", ""}, Choice: "a", ShownFirst: "a"}, NoScale, "responses[1]", "empty"},
		{"repeated id", Label{Responses: []string{"a", "b", "a"}, Choice: "a", ShownFirst: "a"}, NoScale, "responses[2]", `"a" repeats responses[0]`},
		{"no choice", pair("", "a", nil), NoScale, "choice", "required"},
		{"choice elsewhere", pair("c", "a", nil), NoScale, "choice", `"c" is not one of responses`},
		{"no shown_first", pair("a", "", nil), NoScale, "shown_first", "required"},
		{"shown_first elsewhere", pair("a", "z", nil), NoScale, "shown_first", `"z" is not one of responses`},
		{"strength without scale", pair("a", "a", strength(1)), NoScale, "strength", "no strength scale"},
		{"strength zero", pair("a", "a", strength(0)), 3, "strength", "from 1 to 3, got 0"},
		{"strength above scale", pair("a", "a", strength(4)), 3, "strength", "from 1 to 3, got 4"},
		{"negative scale", pair("a", "a", nil), -1, "strength_scale", "at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.l.Validate(tc.scale)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantField(t, err, tc.field, tc.reason)
		})
	}
}

func TestScaleOf(t *testing.T) {
	if s, err := ScaleOf(nil); s != NoScale || err != nil {
		t.Errorf("ScaleOf(nil) = %v, %v; want NoScale", s, err)
	}
	if s, err := ScaleOf(strength(5)); s != 5 || err != nil {
		t.Errorf("ScaleOf(5) = %v, %v", s, err)
	}
	_, err := ScaleOf(strength(0))
	wantField(t, err, "strength_scale", "at least 1, got 0")
}

func TestFieldErrorMessage(t *testing.T) {
	if got := (&FieldError{Field: "choice", Reason: "required"}).Error(); got != "choice: required" {
		t.Errorf("got %q", got)
	}
	if got := (&FieldError{Reason: "not an object"}).Error(); got != "not an object" {
		t.Errorf("got %q", got)
	}
}
