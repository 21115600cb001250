package preference

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// jsonFields are the keys of a preference value's JSON object, in the order errors list them.
var jsonFields = []string{"responses", "choice", "shown_first", "strength"}

// ParseJSON reads a preference value written as a JSON object (the value column of a CSV
// export, the CLI's input):
//
//	{"responses": ["a", "b"], "choice": "b", "shown_first": "a", "strength": 2}
//
// and validates it for a question with the given scale (Validate). "strength" may be left out
// or null; the other keys are required, and a key outside these four is refused, so that a
// misspelt "shownFirst" cannot pass as a label without a first-shown response. Every error is a
// *FieldError naming the field ("" for the value as a whole).
func ParseJSON(data []byte, scale Scale) (Label, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return Label{}, fieldErr("", "a preference value must be a JSON object with keys %s: %s",
			strings.Join(jsonFields, ", "), describeJSONError(err))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(jsonFields, k) {
			return Label{}, fieldErr(k, "unknown field (a preference value has %s)", strings.Join(jsonFields, ", "))
		}
	}
	var l Label
	raw, ok := present(obj, "responses")
	if !ok {
		return Label{}, fieldErr("responses", "required")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return Label{}, fieldErr("responses", "must be an array of response ids, got %s", raw)
	}
	for i, item := range items {
		var id string
		if err := json.Unmarshal(item, &id); err != nil || isNull(item) {
			return Label{}, fieldErr(fmt.Sprintf("responses[%d]", i), "must be a string (a response id), got %s", item)
		}
		l.Responses = append(l.Responses, id)
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{"choice", &l.Choice}, {"shown_first", &l.ShownFirst}} {
		raw, ok := present(obj, f.name)
		if !ok {
			return Label{}, fieldErr(f.name, "required")
		}
		if err := json.Unmarshal(raw, f.to); err != nil {
			return Label{}, fieldErr(f.name, "must be a string (a response id), got %s", raw)
		}
	}
	if raw, ok := present(obj, "strength"); ok {
		var s int32
		if err := json.Unmarshal(raw, &s); err != nil {
			return Label{}, fieldErr("strength", "must be a whole number, got %s", raw)
		}
		l.Strength = &s
	}
	if err := l.Validate(scale); err != nil {
		return Label{}, err
	}
	return l, nil
}

// present returns the raw value of key, treating null like an absent key.
func present(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := obj[key]
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// describeJSONError says what is wrong with a value that is not a JSON object.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	switch {
	case err == nil: // null decodes into a nil map without error
		return "got null"
	case errors.As(err, &te):
		return "got a JSON " + te.Value
	}
	return err.Error()
}
